/* A small map with the case's position. */
(function () {
  "use strict";
  var el = document.getElementById("case-map");
  if (!el || !window.L) return;
  var at = [+el.dataset.lat, +el.dataset.lon];
  var map = L.map(el, {scrollWheelZoom: false}).setView(at, 17);
  JSON.parse(document.getElementById("map-base").textContent).forEach(function (layer) {
    L.tileLayer(layer.url, layer.options).addTo(map);
  });
  L.circleMarker(at, {radius: 9, color: "#c0392b", weight: 3, fillOpacity: 0.5}).addTo(map);
})();
