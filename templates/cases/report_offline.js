{% load static %}/* GridGov: the report page opens with no connection. A service worker whose scope is the
   report page alone: it answers the page and the files it uses from the network while there
   is one, keeping a copy of each, and from that copy when there is none. Only GET requests
   of this site are touched; reports themselves go through the outbox (outbox.js), which
   keeps them on the phone until they are sent. Logging out deletes the copies. */
"use strict";
var CACHE = "{{ cache }}";
var PAGE = "{% url 'cases:report' %}";
var FILES = [
  PAGE,
  "{% url 'javascript-catalog' %}",
  "{% static 'css/gridgov.css' %}",
  "{% static 'favicon.svg' %}",
  "{% static 'vendor/leaflet/leaflet.css' %}",
  "{% static 'vendor/leaflet/leaflet.js' %}",
  "{% static 'vendor/leaflet/images/marker-icon.png' %}",
  "{% static 'vendor/leaflet/images/marker-icon-2x.png' %}",
  "{% static 'vendor/leaflet/images/marker-shadow.png' %}",
  "{% static 'vendor/leaflet/images/layers.png' %}",
  "{% static 'js/outbox.js' %}",
  "{% static 'js/exif_gps.js' %}",
  "{% static 'js/map_api.js' %}",
  "{% static 'js/pin_map.js' %}",
  "{% static 'js/report.js' %}"
];
var KEPT = {};
FILES.forEach(function (path) { KEPT[path] = true; });

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) {
    return Promise.all(FILES.map(function (path) {
      return fetch(path, {credentials: "same-origin", cache: "no-store"}).then(function (response) {
        // A page that sent us to the log-in page is not the report page.
        if (response.ok && !response.redirected) return cache.put(path, response);
      }, function () {});
    }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("gridgov-report-") === 0 && name !== CACHE;
    }).map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || !KEPT[url.pathname]) return;
  // The page is kept without its query (?draft=... opens the same page).
  var key = url.pathname;
  event.respondWith(fetch(request).then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(key, copy); });
    }
    return response;
  }, function () {
    return caches.open(CACHE).then(function (cache) { return cache.match(key); })
      .then(function (kept) { return kept || Response.error(); });
  }));
});
