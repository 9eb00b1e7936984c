/* A pin on a map that fills a longitude and a latitude field: dragged, tapped, set by the
   page (GPS, a photo's position) or typed in the fields; a street or community found by
   name or code, or a unit grid by its code; the reporter's own grids, and the communities
   and grids around the pin (without a base map, the default, these outlines are all the
   map shows); and a line saying which grid, community and grid worker the pin falls on.

   gridgov.pinMap({map, lon, lat, text, place, search, results, config, onMove}) returns
   {set(latitude, longitude, how)}; ``config`` is what the page's view gives (pin_map_config). */
window.gridgov = window.gridgov || {};
gridgov.pinMap = function (o) {
  "use strict";
  var config = o.config, lon = o.lon, lat = o.lat, text = o.text, place = o.place;
  var map = null, marker = null, located = null;
  var UNPLACED = 0.45;  // the pin's opacity while it marks no position yet
  var onMove = o.onMove || function () {};

  function set(latitude, longitude, how) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    if (how) text.textContent = how + " " + latitude.toFixed(5) + ", " + longitude.toFixed(5);
    if (marker) {
      marker.setLatLng([latitude, longitude]).setOpacity(1);
      map.panTo([latitude, longitude]);
    }
    describe();
    onMove();
  }

  // Which grid, community and street the pin is in, and who patrols it: where a case
  // there would be placed.
  function describe() {
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

  function showContext(context) {
    var loading = null;
    return function () {
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
        o.map.dataset.context = answers.map(function (a) { return a.features.length; }).join(",");
      }).catch(function () {});
    };
  }

  if (window.L) {
    map = L.map(o.map, {scrollWheelZoom: false, maxZoom: 19});
    config.base.forEach(function (layer) { L.tileLayer(layer.url, layer.options).addTo(map); });
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
    // Until it is placed the pin is faint: the middle of the map is not a position.
    marker = L.marker(map.getCenter(), {draggable: true, opacity: lat.value && lon.value ? 1 : UNPLACED})
      .addTo(map);
    marker.on("dragend", function () {
      var p = marker.getLatLng();
      set(p.lat, p.lng, gettext("Pin:"));
    });
    map.on("click", function (e) { set(e.latlng.lat, e.latlng.lng, gettext("Pin:")); });
    var refresh = showContext(L.layerGroup().addTo(map));
    var timer = null;
    map.on("moveend", function () { clearTimeout(timer); timer = setTimeout(refresh, 250); });
    refresh();
  }

  // Typed into visible fields: the pin follows once both make a point.
  [lon, lat].forEach(function (field) {
    field.addEventListener("change", function () {
      var x = parseFloat(lon.value), y = parseFloat(lat.value);
      if (isFinite(x) && isFinite(y) && Math.abs(x) <= 180 && Math.abs(y) <= 90) {
        set(y, x, gettext("Position:"));
      }
    });
  });

  // The place finder: a street or community by name or code, or a unit grid by its code;
  // choosing one shows it, and the pin is then dragged to the spot.
  var search = o.search, results = o.results;
  var finding = null, findTimer = null;
  function choose(feature) {
    results.hidden = true;
    search.value = feature.properties.name || feature.properties.code;
    if (!map) return;
    var bounds = L.geoJSON(feature).getBounds();
    map.fitBounds(bounds, {maxZoom: 17});
    // The pin waits in the middle, unplaced: the position is the spot it is dragged to,
    // not the middle of a street.
    marker.setLatLng(bounds.getCenter()).setOpacity(UNPLACED);
    lat.value = lon.value = "";
    place.textContent = "";
    text.textContent = gettext("Drag the pin to the spot, or tap the map there.");
  }
  search.addEventListener("keydown", function (e) {
    // Enter picks the first match rather than submitting the form; the down arrow walks
    // into the list, Escape closes it.
    var first = results.hidden ? null : results.querySelector("button");
    if (e.key === "Enter") {
      e.preventDefault();
      if (first) first.click();
    } else if (e.key === "ArrowDown" && first) {
      e.preventDefault();
      first.focus();
    } else if (e.key === "Escape") {
      results.hidden = true;
    }
  });
  results.addEventListener("keydown", function (e) {
    var buttons = Array.prototype.slice.call(results.querySelectorAll("button"));
    var at = buttons.indexOf(document.activeElement);
    if (at < 0) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var next = at + (e.key === "ArrowDown" ? 1 : -1);
      if (next < 0) search.focus(); else if (next < buttons.length) buttons[next].focus();
    } else if (e.key === "Escape") {
      results.hidden = true;
      search.focus();
    }
  });
  search.addEventListener("input", function () {
    clearTimeout(findTimer);
    var q = search.value.trim();
    if (!q) { results.hidden = true; return; }
    findTimer = setTimeout(function () {
      if (finding) finding.abort();
      finding = new AbortController();
      // More digits than a community's code: a unit grid's code.
      var url = /^\d{13,}$/.test(q) ?
        config.gridsUrl + "?" + new URLSearchParams({code: q, zoom: 16}) :
        config.areasUrl + "?" + new URLSearchParams({q: q, zoom: 14});
      gridgov.getJSON(url, finding.signal).then(function (found) {
        results.textContent = "";
        found.features.forEach(function (feature) {
          var p = feature.properties;
          var item = document.createElement("li");
          var button = document.createElement("button");
          button.type = "button";
          button.className = "linklike";
          button.dataset.code = p.code;
          // Text nodes: the names come from the database.
          button.textContent = p.name ? p.name + " · " + p.code : p.code + " · " + p.community_name;
          button.addEventListener("click", function () { choose(feature); });
          item.appendChild(button);
          results.appendChild(item);
        });
        if (!found.features.length) {
          var none = document.createElement("li");
          none.className = "empty";
          none.textContent = gettext("No street, community or grid matches.");
          results.appendChild(none);
        }
        results.hidden = false;
      }).catch(function () {});
    }, 250);
  });

  if (lat.value && lon.value) set(+lat.value, +lon.value, gettext("Position:"));
  return {set: set};
};
