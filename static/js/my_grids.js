/* My grids: the worker's grids on a map fitted to them; tapping one shows it in the list. */
(function () {
  "use strict";
  var el = document.getElementById("my-grids-map");
  if (!el || !window.L) return;
  var config = JSON.parse(document.getElementById("my-grids-config").textContent);

  // Page scrolling on a phone must not zoom the map by accident.
  var map = L.map(el, {scrollWheelZoom: false, maxZoom: 19});
  config.base.forEach(function (layer) { L.tileLayer(layer.url, layer.options).addTo(map); });
  var grids = L.geoJSON(config.grids, {
    style: {className: "grid-boundary mine", color: "#0b5cad", weight: 2, fillOpacity: 0.15},
    onEachFeature: function (feature, layer) {
      var p = feature.properties;
      // The sequence within the community: the full code does not fit in a 100 m cell.
      layer.bindTooltip(p.code.slice(p.community_code.length), {
        permanent: true, direction: "center", className: "grid-label"
      });
      layer.on("click", function () {
        var item = document.getElementById("grid-" + p.code);
        if (!item) return;
        document.querySelectorAll(".grid-card.selected").forEach(function (other) {
          other.classList.remove("selected");
        });
        item.classList.add("selected");
        item.scrollIntoView({behavior: "smooth", block: "nearest"});
      });
    }
  }).addTo(map);
  map.fitBounds(grids.getBounds(), {padding: [16, 16], maxZoom: 18});
  el.dataset.features = config.grids.features.length;
  el.dataset.state = "loaded";
})();
