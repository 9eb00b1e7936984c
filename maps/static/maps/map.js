/* The shared case map. Cases come as vector tiles (PostGIS) or as GeoJSON by bbox
   (SpatiaLite), both already limited to what the viewer may see and to the filters;
   zoomed out they are counts per street or community. The page polls the case version
   and reloads its layers when a case changed. */
(function () {
  "use strict";
  var el = document.getElementById("case-map");
  if (!el || !window.L) return;
  var config = JSON.parse(document.getElementById("case-map-config").textContent);
  var status = document.getElementById("case-map-status");
  var form = document.getElementById("map-filter-form");
  var DEBOUNCE_MS = 250;
  var LIGHTS = {green: "#1b8a3a", yellow: "#e0a100", red: "#c0392b"};
  var NO_LIGHT = "#5b6b7b";
  // Cases counted per area, by class: none, 1-9, 10-99, 100-999, 1000 and more.
  var SHADES = ["#f7fbff", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];
  var version = config.version;
  // On a phone the filters fold away, leaving the screen to the map.
  if (window.matchMedia("(max-width: 600px)").matches) {
    document.getElementById("map-filters").open = false;
  }

  var map = L.map(el, {minZoom: 3, maxZoom: 19});
  config.base.forEach(function (layer) { L.tileLayer(layer.url, layer.options).addTo(map); });
  var view = /^#(\d+)\/(-?[\d.]+)\/(-?[\d.]+)$/.exec(location.hash);
  if (view) {
    map.setView([+view[2], +view[3]], +view[1]);
  } else if (config.extent) {
    var e = config.extent;
    map.fitBounds([[e[1], e[0]], [e[3], e[2]]]);
  } else {
    map.setView([39.93, 116.41], 12);
  }

  // ------------------------------------------------------------------ filters

  function filterQuery() {
    var params = new URLSearchParams();
    new FormData(form).forEach(function (value, name) {
      if (value !== "") params.append(name, value);
    });
    return params;
  }

  // ------------------------------------------------------------------ styles

  function shade(n) {
    if (!n) return SHADES[0];
    return SHADES[Math.min(4, 1 + Math.floor(Math.log10(n)))];
  }

  function pointStyle(p) {
    var light = p.light || "none";
    return {
      radius: p.urgency === "urgent" ? 8 : 6,
      fill: true,
      fillColor: LIGHTS[p.light] || NO_LIGHT,
      fillOpacity: 0.9,
      color: p.supervision > 0 ? "#000" : "#fff",
      weight: p.supervision > 0 ? 2.5 : 1.5,
      className: "case-point light-" + light + " stage-" + p.stage
    };
  }

  function areaStyle(p) {
    return {
      fill: true,
      fillColor: shade(p.n),
      fillOpacity: 0.7,
      color: p.red ? LIGHTS.red : "#1d2733",
      weight: p.red ? 2 : 1,
      className: "case-area level-" + p.level
    };
  }

  // ------------------------------------------------------------------ popups

  function row(list, term, value) {
    if (!value) return;
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = term;
    dd.textContent = value;
    list.appendChild(dt);
    list.appendChild(dd);
  }

  var LIGHT_LABELS = {
    green: gettext("Within time"), yellow: gettext("Nearly due"), red: gettext("Overdue")
  };

  function showCase(latlng, id) {
    var popup = L.popup({className: "case-popup"}).setLatLng(latlng)
      .setContent(gettext("Loading…")).openOn(map);
    gridgov.getJSON(config.caseUrl.replace("/0/", "/" + id + "/")).then(function (c) {
      // Built from text nodes: everything here comes from people's input.
      var box = document.createElement("div");
      var title = document.createElement("div");
      title.className = "ref";
      title.textContent = c.reference;
      box.appendChild(title);
      var facts = document.createElement("dl");
      facts.className = "facts";
      row(facts, gettext("Category"), c.category);
      row(facts, gettext("Stage"), c.stage_label);
      row(facts, gettext("Time"), LIGHT_LABELS[c.light]);
      row(facts, gettext("Department"), c.department);
      row(facts, gettext("Unit grid"), c.grid);
      row(facts, gettext("Address"), c.address);
      row(facts, gettext("Reported"), c.reported_at);
      row(facts, gettext("Deadline"), c.deadline);
      box.appendChild(facts);
      var text = document.createElement("p");
      text.textContent = c.description;
      box.appendChild(text);
      var link = document.createElement("a");
      link.className = "case-link";
      link.href = c.url;
      link.textContent = gettext("Open the case");
      box.appendChild(link);
      popup.setContent(box);
    }).catch(function (error) {
      popup.setContent(gettext("The case could not be loaded:") + " " + error.message);
    });
  }

  function showArea(latlng, p) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = p.name + " (" + p.code + ")";
    box.appendChild(title);
    var facts = document.createElement("dl");
    facts.className = "facts";
    row(facts, gettext("Cases"), String(p.n));
    row(facts, gettext("Overdue"), String(p.red));
    row(facts, gettext("Nearly due"), String(p.yellow));
    box.appendChild(facts);
    var hint = document.createElement("p");
    hint.className = "hint";
    hint.textContent = gettext("Zoom in to see single cases.");
    box.appendChild(hint);
    L.popup({className: "area-popup"}).setLatLng(latlng).setContent(box).openOn(map);
  }

  function clicked(latlng, p) {
    if (p.level) showArea(latlng, p); else showCase(latlng, p.id);
  }

  // ------------------------------------------------------------------ what is shown

  // What is drawn now: case ids in view, and areas with their counts. Read from the
  // features themselves, not from the paths: a feature near a tile edge is drawn in both
  // tiles, and tiles reach past the edges of the view.
  function collectShown() {
    var cases = {}, areas = {}, bounds = map.getBounds(), zoom = map.getZoom();
    function add(p, latlng) {
      if (p.level) areas[p.id] = p.n;
      else if (bounds.contains(latlng)) cases[p.id] = true;
    }
    if (config.mode === "mvt") {
      var size = casesLayer.getTileSize();
      Object.keys(casesLayer._tiles).forEach(function (key) {
        var coords = casesLayer._tiles[key].coords;
        var tile = casesLayer._vectorTiles[key];
        if (coords.z !== zoom || !tile) return;
        var origin = coords.scaleBy(size);
        Object.keys(tile._features).forEach(function (id) {
          var feature = tile._features[id].feature;
          add(feature.properties,
              feature._point ? map.unproject(origin.add(feature._point), zoom) : null);
        });
      });
    } else {
      casesLayer.eachLayer(function (layer) {
        add(layer.feature.properties, layer.getLatLng ? layer.getLatLng() : null);
      });
    }
    return {cases: Object.keys(cases).map(Number).sort(function (a, b) { return a - b; }), areas: areas};
  }

  function describeShown() {
    var now = collectShown();
    var areaIds = Object.keys(now.areas);
    var total = areaIds.reduce(function (sum, id) { return sum + now.areas[id]; }, 0);
    el.dataset.features = now.cases.length + areaIds.length;
    el.dataset.paths = el.querySelectorAll("path.case-point, path.case-area").length;
    if (map.getZoom() >= config.pointsZoom) {
      var n = now.cases.length;
      status.textContent = interpolate(ngettext("%s case in view.", "%s cases in view.", n), [n]);
    } else {
      status.textContent = interpolate(
        ngettext("%(cases)s case in %(areas)s areas on the map; zoom in to see single cases.",
                 "%(cases)s cases in %(areas)s areas on the map; zoom in to see single cases.", total),
        {cases: total, areas: areaIds.length}, true);
      // Cases outside every grid belong to no area: drawn as points at every zoom.
      var outside = now.cases.length;
      if (outside) {
        status.textContent += " " + interpolate(
          ngettext("%s case outside every grid is shown as a point.",
                   "%s cases outside every grid are shown as points.", outside), [outside]);
      }
    }
    el.dataset.zoom = map.getZoom();
    el.dataset.version = version;
    el.dataset.state = "loaded";
  }

  var casesLayer, loadCases;

  if (config.mode === "mvt") {
    // Leaflet.VectorGrid 1.3 point features are circle markers without a position of
    // their own; Leaflet 1.9 asks a clicked circle marker for it and fails. Without
    // getLatLng, Leaflet places the click where the pointer is.
    var createLayer = L.VectorGrid.prototype._createLayer;
    L.VectorGrid.prototype._createLayer = function () {
      var layer = createLayer.apply(this, arguments);
      if (layer.getLatLng && !layer._latlng) layer.getLatLng = null;
      return layer;
    };
    // A redraw on every version or filter change: a new URL, so no stale tile is reused.
    var tileUrl = function () {
      var params = filterQuery();
      params.set("v", version);
      return config.tilesUrl + "?" + params;
    };
    casesLayer = L.vectorGrid.protobuf(tileUrl(), {
      // SVG: every feature is an element (clickable, countable); safer than WebGL headless.
      rendererFactory: L.svg.tile,
      interactive: true,
      maxZoom: 19,
      vectorTileLayerStyles: {
        cases: pointStyle,
        areas: areaStyle
      },
      // Makes the layer keep each tile's features, which collectShown() reads.
      getFeatureId: function (feature) {
        return (feature.properties.level ? "a" : "c") + feature.properties.id;
      }
    });
    casesLayer.on("click", function (event) {
      L.DomEvent.stop(event);
      clicked(event.latlng, event.layer.properties);
    });
    casesLayer.on("loading", function () { el.dataset.state = "loading"; });
    casesLayer.on("load", describeShown);
    casesLayer.addTo(map);
    loadCases = function () { el.dataset.state = "loading"; casesLayer.setUrl(tileUrl()); };
  } else {
    casesLayer = L.geoJSON(null, {
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, pointStyle(feature.properties));
      },
      // Leaflet applies "style" to circle markers too.
      style: function (feature) {
        var p = feature.properties;
        return p.level ? areaStyle(p) : pointStyle(p);
      },
      onEachFeature: function (feature, layer) {
        layer.on("click", function (event) {
          L.DomEvent.stop(event);
          clicked(event.latlng, feature.properties);
        });
      }
    }).addTo(map);
    var inFlight = null;
    loadCases = function () {
      if (inFlight) inFlight.abort();
      inFlight = new AbortController();
      el.dataset.state = "loading";
      var params = filterQuery();
      params.set("bbox", gridgov.bbox(map));
      params.set("zoom", map.getZoom());
      gridgov.getJSON(config.featuresUrl + "?" + params, inFlight.signal).then(function (collection) {
        casesLayer.clearLayers();
        casesLayer.addData(collection);
        describeShown();
        if (collection.left_out) {
          status.textContent += " " + interpolate(gettext("%s more are not shown: zoom in."), [collection.left_out]);
        }
      }).catch(failed);
    };
  }

  function failed(error) {
    if (error.name === "AbortError") return;
    status.textContent = gettext("The cases could not be loaded:") + " " + error.message;
    el.dataset.state = "failed";
  }

  // ------------------------------------------------------------------ heat and grids

  var heat = L.heatLayer([], {radius: 18, blur: 14, minOpacity: 0.3});
  function loadHeat() {
    if (!map.hasLayer(heat)) return;
    var params = filterQuery();
    params.set("bbox", gridgov.bbox(map));
    params.set("zoom", map.getZoom());
    gridgov.getJSON(config.heatUrl + "?" + params).then(function (answer) {
      heat.setOptions({max: Math.max(1, answer.max)});
      heat.setLatLngs(answer.cells);
      el.dataset.heatCells = answer.cells.length;
    }).catch(failed);
  }
  map.on("overlayadd", function (event) { if (event.layer === heat) loadHeat(); });

  var grids = L.geoJSON(null, {
    interactive: false,
    style: {className: "grid-boundary", color: "#0b5cad", weight: 1, fill: false, opacity: 0.6}
  });
  var communities = L.geoJSON(null, {
    interactive: false,
    style: {className: "community-boundary", color: "#1d2733", weight: 2, fill: false}
  });
  function loadBoundaries() {
    grids.clearLayers();
    communities.clearLayers();
    if (map.getZoom() < config.pointsZoom) return;
    var params = new URLSearchParams({bbox: gridgov.bbox(map), zoom: map.getZoom()});
    var areaParams = new URLSearchParams(params);
    areaParams.set("level", "community");
    gridgov.getJSON(config.areasUrl + "?" + areaParams).then(function (c) { communities.addData(c); });
    if (map.getZoom() >= config.gridsZoom && map.hasLayer(grids)) {
      gridgov.getJSON(config.gridsUrl + "?" + params).then(function (c) { grids.addData(c); });
    }
  }
  communities.addTo(map);
  grids.addTo(map);
  map.on("overlayadd", function (event) { if (event.layer === grids) loadBoundaries(); });

  var overlays = {};
  overlays[gettext("Cases")] = casesLayer;
  overlays[gettext("Heat map")] = heat;
  overlays[gettext("Unit grids")] = grids;
  L.control.layers(null, overlays, {collapsed: true}).addTo(map);

  // ------------------------------------------------------------------ refresh

  function reloadAll() {
    loadCases();
    loadHeat();
  }

  var timer = null;
  map.on("moveend", function () {
    var centre = map.getCenter();
    history.replaceState(null, "", location.pathname + location.search + "#" + map.getZoom() + "/" +
      centre.lat.toFixed(5) + "/" + centre.lng.toFixed(5));
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (config.mode !== "mvt") loadCases();
      else if (el.dataset.state === "loaded") describeShown();
      loadHeat();
      loadBoundaries();
    }, DEBOUNCE_MS);
  });

  form.addEventListener("submit", function (event) { event.preventDefault(); });
  form.addEventListener("change", function () {
    history.replaceState(null, "", location.pathname + "?" + filterQuery() + location.hash);
    reloadAll();
  });

  // A case changed somewhere: reload within a few seconds (POLL_SECONDS).
  function poll() {
    gridgov.getJSON(config.versionUrl).then(function (answer) {
      if (answer.version !== version) {
        version = answer.version;
        reloadAll();
      }
    }).catch(function () { /* offline for a moment: the next poll tries again */ })
      .then(function () { setTimeout(poll, config.pollSeconds * 1000); });
  }
  setTimeout(poll, config.pollSeconds * 1000);

  if (config.mode !== "mvt") loadCases();
  loadBoundaries();

  // For people's tools and the browser tests: what the map holds now.
  window.caseMap = {map: map, shown: collectShown};
})();
