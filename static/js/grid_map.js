/* The grid map: the current unit grids in view, fetched by bbox whenever the map stops
   moving, with community boundaries for orientation. */
(function () {
  "use strict";
  var el = document.getElementById("grid-map");
  if (!el || !window.L) return;
  var config = JSON.parse(document.getElementById("grid-map-config").textContent);
  var status = document.getElementById("grid-map-status");
  var DEBOUNCE_MS = 250;

  var map = L.map(el, {minZoom: 3, maxZoom: 19});
  config.base.forEach(function (layer) { L.tileLayer(layer.url, layer.options).addTo(map); });
  // The view lives in the address (#zoom/lat/lon), so a view can be shared or reloaded.
  var view = /^#(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (view) {
    map.setView([+view[2], +view[3]], +view[1]);
  } else if (config.extent) {
    var e = config.extent;
    map.fitBounds([[e[1], e[0]], [e[3], e[2]]]);
  } else {
    map.setView([35, 105], 4);
  }

  var communities = L.geoJSON(null, {
    interactive: false,
    style: {className: "community-boundary", color: "#1d2733", weight: 2.5, fill: false}
  }).addTo(map);
  var grids = L.geoJSON(null, {style: gridStyle, onEachFeature: describe}).addTo(map);

  function gridStyle(feature) {
    var assigned = !!feature.properties.responsible;
    return {
      className: "grid-boundary" + (assigned ? "" : " unassigned"),
      color: assigned ? "#0b5cad" : "#c98a00",
      weight: 1,
      dashArray: assigned ? null : "4 3",
      fillOpacity: 0.08
    };
  }

  function row(list, term, value) {
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value || gettext("nobody");
    list.appendChild(dt);
    list.appendChild(dd);
  }

  function describe(feature, layer) {
    var p = feature.properties;
    layer.bindPopup(function () {
      // Built from text nodes: names come from the database.
      var box = document.createElement("div");
      var title = document.createElement("strong");
      title.textContent = p.code;
      box.appendChild(title);
      var facts = document.createElement("dl");
      facts.className = "facts";
      row(facts, gettext("Community"), p.community_name + " (" + p.community_code + ")");
      row(facts, gettext("Responsible"), p.responsible);
      row(facts, gettext("Deputy"), p.deputy);
      box.appendChild(facts);
      return box;
    });
    if (map.getZoom() >= config.labelZoom) {
      layer.bindTooltip(p.code, {permanent: true, direction: "center", className: "grid-label"});
    }
  }

  function query() {
    return new URLSearchParams({bbox: gridgov.bbox(map), zoom: Math.round(map.getZoom())});
  }

  var inFlight = null;
  function load() {
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    el.dataset.state = "loading";
    var zoom = map.getZoom();
    var params = query();
    var communityParams = new URLSearchParams(params);
    communityParams.set("level", "community");
    Promise.all([
      gridgov.getJSON(config.gridsUrl + "?" + params, inFlight.signal),
      gridgov.getJSON(config.areasUrl + "?" + communityParams, inFlight.signal)
    ]).then(function (answers) {
      grids.clearLayers();
      communities.clearLayers();
      communities.addData(answers[1]);
      grids.addData(answers[0]);
      var shown = answers[0].features.length;
      var text = interpolate(ngettext("%s unit grid in view.", "%s unit grids in view.", shown), [shown]);
      if (answers[0].left_out) {
        text += " " + interpolate(gettext("%s more are not shown: zoom in."), [answers[0].left_out]);
      }
      status.textContent = text;
      // What the page shows, for people's tools and the browser tests.
      el.dataset.features = shown;
      el.dataset.zoom = zoom;
      el.dataset.state = "loaded";
    }).catch(function (error) {
      if (error.name === "AbortError") return;
      status.textContent = gettext("The unit grids could not be loaded:") + " " + error.message;
      el.dataset.state = "failed";
    });
  }

  var timer = null;
  map.on("moveend", function () {
    var centre = map.getCenter();
    history.replaceState(null, "", "#" + map.getZoom() + "/" + centre.lat.toFixed(5) + "/" + centre.lng.toFixed(5));
    clearTimeout(timer);
    timer = setTimeout(load, DEBOUNCE_MS);
  });
  load();
})();
