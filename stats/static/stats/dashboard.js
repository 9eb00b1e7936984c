// The dashboard refreshes itself: it polls a cheap version number and, when the figures
// changed, fetches them again as a server-rendered fragment and swaps it in.
(function () {
  "use strict";
  var box = document.getElementById("figures");
  var narrow = document.getElementById("narrow");
  if (narrow) {
    narrow.addEventListener("change", function () {
      if (!narrow.value) return;
      var form = document.getElementById("stats-filter");
      form.querySelectorAll('input[name="area"], input[name="grid"]').forEach(function (el) {
        el.remove();
      });
      var input = document.createElement("input");
      input.type = "hidden";
      input.name = narrow.dataset.kind;
      input.value = narrow.value;
      form.appendChild(input);
      form.submit();
    });
  }
  if (!box) return;
  var version = box.dataset.version;
  var busy = false;
  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(box.dataset.versionUrl, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state || String(state.version) === String(version)) return null;
        version = String(state.version);
        return fetch(box.dataset.fragmentUrl, { credentials: "same-origin", cache: "no-store" })
          .then(function (r) { return r.ok ? r.text() : null; })
          .then(function (html) {
            if (html !== null) {
              box.innerHTML = html;
              box.dataset.version = version;
            }
          });
      })
      .catch(function () { /* offline for a moment: try again at the next tick */ })
      .then(function () { busy = false; });
  }
  setInterval(poll, 3000);
})();
