/* Report page: pin on a map (GPS, drag, or the photo's own position), category search,
   and a live warning when the same problem was already reported nearby. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var lon = document.getElementById("id_lon");
  var lat = document.getElementById("id_lat");
  var category = document.getElementById("id_category");
  var text = document.getElementById("position-text");
  var photoButton = document.getElementById("use-photo-position");
  var map = null, marker = null, photoPosition = null;
  var start = [39.913, 116.417]; // Dongcheng; replaced by the device's position

  function setPosition(latitude, longitude, how) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    text.textContent = how + " " + latitude.toFixed(5) + ", " + longitude.toFixed(5);
    if (marker) { marker.setLatLng([latitude, longitude]); map.panTo([latitude, longitude]); }
    checkDuplicates();
  }

  if (window.L) {
    map = L.map("report-map").setView(lat.value ? [+lat.value, +lon.value] : start, 17);
    JSON.parse(document.getElementById("map-base").textContent).forEach(function (layer) {
      L.tileLayer(layer.url, layer.options).addTo(map);
    });
    marker = L.marker(map.getCenter(), {draggable: true}).addTo(map);
    marker.on("dragend", function () {
      var p = marker.getLatLng();
      setPosition(p.lat, p.lng, gettext("Pin:"));
    });
    map.on("click", function (e) { setPosition(e.latlng.lat, e.latlng.lng, gettext("Pin:")); });
  }
  if (lat.value && lon.value) {
    setPosition(+lat.value, +lon.value, gettext("Position:"));
  } else if (navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (p) {
      if (!lat.value) setPosition(p.coords.latitude, p.coords.longitude, gettext("Your position:"));
    }, function () {
      text.textContent = gettext("No location access: drag the pin to the problem.");
    }, {enableHighAccuracy: true, timeout: 10000});
  }

  // The camera's own position is offered first: it is where the photo was taken.
  var photos = document.getElementById("id_photos");
  photos.addEventListener("change", function () {
    if (!photos.files.length || !window.exifGps) return;
    window.exifGps(photos.files[0]).then(function (gps) {
      photoPosition = gps;
      photoButton.hidden = !gps;
      if (gps && !lat.value) setPosition(gps.lat, gps.lon, gettext("Photo position:"));
    });
  });
  photoButton.addEventListener("click", function () {
    if (photoPosition) setPosition(photoPosition.lat, photoPosition.lon, gettext("Photo position:"));
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
