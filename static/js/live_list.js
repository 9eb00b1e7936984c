/* A list of cases that keeps itself current: it polls the case version (raised after every
   committed change to a case) and, when it moved, or a minute has passed (a deadline
   passes without any write), reads the page again and swaps the list in. Hidden tabs do
   not poll. The list is the element with data-live-version-url. */
(function () {
  "use strict";
  var box = document.querySelector("[data-live-version-url]");
  if (!box) return;
  var POLL_MS = 5000, EVERY_MS = 60000;
  var version = null, busy = false, refreshed = Date.now();

  function refresh() {
    return fetch(location.href, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(box.id);
        if (!fresh) return;
        box.innerHTML = fresh.innerHTML;
        refreshed = Date.now();
        box.dataset.refreshed = String(refreshed);
      });
  }

  function poll() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(box.dataset.liveVersionUrl, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (state) {
        if (!state) return null;
        var moved = version !== null && String(state.version) !== version;
        version = String(state.version);
        if (moved || Date.now() - refreshed >= EVERY_MS) return refresh();
        return null;
      })
      .catch(function () { /* offline for a moment: the next tick tries again */ })
      .then(function () { busy = false; });
  }
  poll();
  setInterval(poll, POLL_MS);
})();
