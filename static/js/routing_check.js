/* Routing check: the point to check, put with the pin map or typed. */
(function () {
  "use strict";
  gridgov.pinMap({
    map: document.getElementById("routing-map"),
    lon: document.getElementById("id_lon"),
    lat: document.getElementById("id_lat"),
    text: document.getElementById("position-text"),
    place: document.getElementById("position-place"),
    search: document.getElementById("place-search"),
    results: document.getElementById("place-results"),
    config: JSON.parse(document.getElementById("routing-map-config").textContent)
  });
})();
