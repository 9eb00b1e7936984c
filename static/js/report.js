/* Report page: the pin (pin_map.js) set by GPS or the photo's own position too; category
   search, and a live warning when the same problem was already reported nearby. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var lon = document.getElementById("id_lon");
  var lat = document.getElementById("id_lat");
  var category = document.getElementById("id_category");
  var text = document.getElementById("position-text");
  var photoButton = document.getElementById("use-photo-position");
  var config = JSON.parse(document.getElementById("report-map-config").textContent);
  var photoPosition = null;
  var pin = gridgov.pinMap({
    map: document.getElementById("report-map"),
    lon: lon, lat: lat, text: text,
    place: document.getElementById("position-place"),
    search: document.getElementById("place-search"),
    results: document.getElementById("place-results"),
    config: config,
    onMove: checkDuplicates
  });
  if (!lat.value && config.askPosition && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (p) {
      if (!lat.value) pin.set(p.coords.latitude, p.coords.longitude, gettext("Your position:"));
    }, function () {
      if (!lat.value) text.textContent = gettext("No location access: drag the pin to the problem.");
    }, {enableHighAccuracy: true, timeout: 10000});
  }

  // The camera's own position is offered first: it is where the photo was taken.
  var photos = document.getElementById("id_photos");
  photos.addEventListener("change", function () {
    if (!photos.files.length || !window.exifGps) return;
    window.exifGps(photos.files[0]).then(function (gps) {
      photoPosition = gps;
      photoButton.hidden = !gps;
      if (gps && !lat.value) pin.set(gps.lat, gps.lon, gettext("Photo position:"));
    });
  });
  photoButton.addEventListener("click", function () {
    if (photoPosition) pin.set(photoPosition.lat, photoPosition.lon, gettext("Photo position:"));
  });

  // Category search by name or code: hides the options that do not match.
  var search = document.getElementById("category-search");
  search.addEventListener("input", function () {
    var q = search.value.trim().toLowerCase();
    var first = null;
    Array.prototype.forEach.call(category.options, function (option) {
      var match = !q || option.text.toLowerCase().indexOf(q) !== -1;
      option.hidden = !match;
      if (match && !first && option.value) first = option;
    });
    if (first && category.selectedOptions[0] && category.selectedOptions[0].hidden) {
      category.value = first.value;
      checkDuplicates();
    }
  });
  category.addEventListener("change", checkDuplicates);

  // Sending: through the outbox (outbox.js), so that a report made with no connection is
  // kept on the phone and sent later, and the photos chosen survive a form sent back with
  // an error or a duplicate warning. Without the outbox the form posts as any form.
  var outbox = window.gridgov && window.gridgov.outbox;
  var submitButton = document.getElementById("submit-report");
  var sendState = document.getElementById("send-state");
  var key = form.elements.submission.value;
  // An empty form takes a key of its own here: the page may be the copy the service worker
  // kept (report_offline.js), opened again with no connection, whose key was used already.
  if ("empty" in form.dataset && !new URLSearchParams(location.search).get("draft")) {
    key = form.elements.submission.value = newKey();
  }
  // A report sent and then brought back by the Back button must not show its caller's name
  // and phone waiting for the next call: the form asks the browser not to restore its
  // fields (autocomplete="off"), and a page the browser kept whole is loaded afresh.
  form.addEventListener("submit", function () { form.dataset.sent = "1"; });
  window.addEventListener("pageshow", function (event) {
    if (event.persisted && form.dataset.sent) location.reload();
  });
  if ("serviceWorker" in navigator && outbox) {
    navigator.serviceWorker.register(form.dataset.offlineWorker, {scope: form.dataset.offlineScope})
      .catch(function () {});  // no HTTPS (or localhost): the page needs the network to open
  }
  if (outbox) {
    outbox.attach(form, {
      key: function () { return key; },
      kind: "report",
      state: sendState,
      kept: function (outcome) {
        form.hidden = true;
        document.getElementById("kept").hidden = false;
        document.getElementById(outcome === "login" ? "kept-login" : "kept-offline").hidden = false;
      }
    });
  }

  // With no connection no new page loads: the next report starts in this one, with a
  // new key, the position kept (the worker is where the last problem was).
  document.getElementById("report-another").addEventListener("click", function (event) {
    event.preventDefault();
    var position = [lat.value, lon.value];
    form.reset();
    lat.value = position[0];
    lon.value = position[1];
    form.elements.confirm_new.value = "";
    submitButton.textContent = gettext("Report");
    form.elements.submission.value = newKey();
    key = form.elements.submission.value;
    delete form.dataset.sending;
    submitButton.disabled = false;
    sendState.textContent = "";
    document.getElementById("photos-kept").textContent = "";
    document.getElementById("duplicates").innerHTML = "";
    document.getElementById("kept").hidden = true;
    document.getElementById("kept-offline").hidden = true;
    document.getElementById("kept-login").hidden = true;
    form.hidden = false;
    window.scrollTo(0, 0);
  });

  function newKey() {  // a version 4 UUID (crypto.randomUUID needs HTTPS)
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    var hex = Array.prototype.map.call(bytes, function (b) { return (b + 0x100).toString(16).slice(1); }).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // This report's draft, if one is kept: its photos go back into the empty photo field
  // (the form came back with an error); opened from the outbox's list (?draft=), an empty
  // form (not one sent back with its errors, which holds what was sent) takes its fields.
  if (outbox) {
    var opened = new URLSearchParams(location.search).get("draft") === key && "empty" in form.dataset;
    outbox.restore(form, key, opened).then(function (draft) {
      if (!draft) return;
      if (opened) {
        if (lat.value && lon.value) pin.set(Number(lat.value), Number(lon.value), gettext("Position:"));
        checkDuplicates();
      }
      if (draft.restored) document.getElementById("photos-kept").textContent = outbox.photosKept(draft.restored);
    });
  }

  var pending = null;
  function checkDuplicates() {
    if (!lat.value || !lon.value || !category.value) return;
    clearTimeout(pending);
    pending = setTimeout(function () {
      var url = form.dataset.duplicatesUrl + "?lon=" + lon.value + "&lat=" + lat.value +
        "&category=" + category.value;
      fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
        .then(function (data) { document.getElementById("duplicates").innerHTML = data.html || ""; })
        .catch(function () {});
    }, 300);
  }
})();
