/* Report page: pin on a map (GPS, drag, the photo's own position, or a street or
   community found by name), with the grid the pin falls in; category search, and a live
   warning when the same problem was already reported nearby. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  var lon = document.getElementById("id_lon");
  var lat = document.getElementById("id_lat");
  var category = document.getElementById("id_category");
  var text = document.getElementById("position-text");
  var photoButton = document.getElementById("use-photo-position");
  var place = document.getElementById("position-place");
  var config = JSON.parse(document.getElementById("report-map-config").textContent);
  var map = null, marker = null, photoPosition = null, located = null;

  function setPosition(latitude, longitude, how) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    text.textContent = how + " " + latitude.toFixed(5) + ", " + longitude.toFixed(5);
    if (marker) { marker.setLatLng([latitude, longitude]); map.panTo([latitude, longitude]); }
    describePosition();
    checkDuplicates();
  }

  // Which grid, community and street the pin is in, and who patrols it: what the case
  // will be placed in. Without a base map this is how one knows the pin is right.
  function describePosition() {
    if (located) located.abort();
    located = new AbortController();
    var url = config.locateUrl + "?" + new URLSearchParams({lon: lon.value, lat: lat.value});
    gridgov.getJSON(url, located.signal).then(function (where) {
      var words;
      if (!where.covered) {
        words = gettext("Outside every unit grid: no grid worker covers it, and the dispatch desk decides.");
      } else {
        words = interpolate(gettext("Grid %(grid)s, %(community)s, %(street)s"), {
          grid: where.grid.code, community: where.community.name, street: where.street.name
        }, true);
        if (where.worker) words += " · " + interpolate(gettext("grid worker %s"), [where.worker]);
        if (config.grids && !config.grids.features.some(function (f) { return f.properties.code === where.grid.code; })) {
          words += " · " + gettext("not one of your grids");
        }
      }
      place.textContent = words;
      place.dataset.grid = where.covered ? where.grid.code : "";
    }).catch(function (error) {
      if (error.name !== "AbortError") place.textContent = "";
    });
  }

  if (window.L) {
    map = L.map("report-map", {scrollWheelZoom: false, maxZoom: 19});
    config.base.forEach(function (layer) { L.tileLayer(layer.url, layer.options).addTo(map); });
    var context = L.layerGroup().addTo(map);
    var mine = null;
    if (config.grids && config.grids.features.length) {
      mine = L.geoJSON(config.grids, {
        interactive: false,
        style: {className: "grid-boundary mine", color: "#0b5cad", weight: 2, fillOpacity: 0.12},
        onEachFeature: function (feature, layer) {
          var p = feature.properties;
          layer.bindTooltip(p.code.slice(p.community_code.length), {
            permanent: true, direction: "center", className: "grid-label"
          });
        }
      }).addTo(map);
    }
    if (lat.value && lon.value) {
      map.setView([+lat.value, +lon.value], 17);
    } else if (mine) {
      map.fitBounds(mine.getBounds(), {padding: [8, 8], maxZoom: 18});
    } else if (config.extent) {
      var e = config.extent;
      map.fitBounds([[e[1], e[0]], [e[3], e[2]]]);
    } else {
      map.setView([35, 105], 4);
    }
    marker = L.marker(map.getCenter(), {draggable: true}).addTo(map);
    marker.on("dragend", function () {
      var p = marker.getLatLng();
      setPosition(p.lat, p.lng, gettext("Pin:"));
    });
    map.on("click", function (e) { setPosition(e.latlng.lat, e.latlng.lng, gettext("Pin:")); });

    // Communities, and closer in the unit grids, around the pin: the other grids than
    // one's own, and the centre's only landmarks on a plain background.
    var loading = null;
    var showContext = function () {
      if (loading) loading.abort();
      var zoom = map.getZoom();
      if (zoom < config.communityZoom) { context.clearLayers(); return; }
      loading = new AbortController();
      var box = gridgov.bbox(map);
      var asks = [gridgov.getJSON(config.areasUrl + "?" + new URLSearchParams({level: "community", bbox: box, zoom: zoom}), loading.signal)];
      if (zoom >= config.gridZoom) {
        asks.push(gridgov.getJSON(config.gridsUrl + "?" + new URLSearchParams({bbox: box, zoom: zoom}), loading.signal));
      }
      Promise.all(asks).then(function (answers) {
        context.clearLayers();
        L.geoJSON(answers[0], {
          interactive: false,
          style: {className: "community-boundary", color: "#1d2733", weight: 2, fill: false}
        }).addTo(context);
        if (answers[1]) {
          L.geoJSON(answers[1], {
            interactive: false,
            style: {className: "grid-boundary", color: "#0b5cad", weight: 1, fill: false, opacity: 0.6}
          }).addTo(context);
        }
        document.getElementById("report-map").dataset.context = answers.map(function (a) {
          return a.features.length;
        }).join(",");
      }).catch(function () {});
    };
    var timer = null;
    map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(showContext, 250); });
    showContext();
  }
  if (lat.value && lon.value) {
    setPosition(+lat.value, +lon.value, gettext("Position:"));
  } else if (config.askPosition && navigator.geolocation) {
    navigator.geolocation.getCurrentPosition(function (p) {
      if (!lat.value) setPosition(p.coords.latitude, p.coords.longitude, gettext("Your position:"));
    }, function () {
      if (!lat.value) text.textContent = gettext("No location access: drag the pin to the problem.");
    }, {enableHighAccuracy: true, timeout: 10000});
  }

  // The place finder: a street or community by name or code; choosing one shows it, and
  // the pin is then dragged to the spot.
  var placeSearch = document.getElementById("place-search");
  var results = document.getElementById("place-results");
  var finding = null, findTimer = null;
  function choose(feature) {
    results.hidden = true;
    placeSearch.value = feature.properties.name;
    if (!map) return;
    var bounds = L.geoJSON(feature).getBounds();
    map.fitBounds(bounds, {maxZoom: 17});
    // The pin waits in the middle, unplaced: the position is the spot it is dragged to,
    // not the middle of a street.
    marker.setLatLng(bounds.getCenter());
    lat.value = lon.value = "";
    place.textContent = "";
    text.textContent = gettext("Drag the pin to the spot, or tap the map there.");
  }
  placeSearch.addEventListener("keydown", function (e) {
    // Enter picks the first match rather than submitting the report.
    if (e.key !== "Enter") return;
    e.preventDefault();
    var first = results.querySelector("button");
    if (first && !results.hidden) first.click();
  });
  placeSearch.addEventListener("input", function () {
    clearTimeout(findTimer);
    var q = placeSearch.value.trim();
    if (!q) { results.hidden = true; return; }
    findTimer = setTimeout(function () {
      if (finding) finding.abort();
      finding = new AbortController();
      gridgov.getJSON(config.areasUrl + "?" + new URLSearchParams({q: q, zoom: 14}), finding.signal).then(function (found) {
        results.textContent = "";
        found.features.forEach(function (feature) {
          var p = feature.properties;
          var item = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.className = "linklike";
          button.dataset.code = p.code;
          // Text nodes: the names come from the database.
          button.textContent = p.name + " · " + p.code;
          button.addEventListener("click", function () { choose(feature); });
          item.appendChild(button);
          results.appendChild(item);
        });
        if (!found.features.length) {
          var none = document.createElement("li");
          none.className = "empty";
          none.textContent = gettext("No street or community matches.");
          results.appendChild(none);
        }
        results.hidden = false;
      }).catch(function () {});
    }, 250);
  });

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
