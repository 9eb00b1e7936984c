/* What the map pages share: the API's JSON read with the page's session (an error's
   "detail" becomes the Error's message), and a map's view as the API's bbox parameter. */
window.gridgov = Object.assign(window.gridgov || {}, (function () {
  "use strict";

  function getJSON(url, signal) {
    return fetch(url, {credentials: "same-origin", headers: {Accept: "application/json"}, signal: signal})
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) throw new Error(body.detail || response.statusText);
          return body;
        });
      });
  }

  function clamp(value, limit) { return Math.max(-limit, Math.min(limit, value)).toFixed(6); }

  // minlon,minlat,maxlon,maxlat of what the map shows, within the world's range.
  function bbox(map) {
    var b = map.getBounds();
    return [clamp(b.getWest(), 180), clamp(b.getSouth(), 90),
            clamp(b.getEast(), 180), clamp(b.getNorth(), 90)].join(",");
  }

  return {getJSON: getJSON, bbox: bbox};
})());
