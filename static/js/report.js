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
