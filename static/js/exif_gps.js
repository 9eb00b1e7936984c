/* Read the GPS position a phone camera wrote into a JPEG's EXIF block.
   window.exifGps(file) -> Promise of {lat, lon} or null. Only the first 256 KB are read. */
(function () {
  "use strict";

  function readRational(view, offset, little) {
    var num = view.getUint32(offset, little), den = view.getUint32(offset + 4, little);
    return den ? num / den : 0;
  }

  function parse(buffer) {
    var view = new DataView(buffer);
    if (view.getUint16(0) !== 0xffd8) return null; // not a JPEG
    var offset = 2;
    while (offset + 4 < view.byteLength) {
      var marker = view.getUint16(offset);
      var size = view.getUint16(offset + 2);
      if (marker === 0xffe1 && view.getUint32(offset + 4) === 0x45786966) { // "Exif"
        return parseTiff(view, offset + 10);
      }
      if ((marker & 0xff00) !== 0xff00) return null;
      offset += 2 + size;
    }
    return null;
  }

  function parseTiff(view, tiff) {
    var little = view.getUint16(tiff) === 0x4949;
    var ifd0 = tiff + view.getUint32(tiff + 4, little);
    var gpsOffset = null;
    var entries = view.getUint16(ifd0, little);
    for (var i = 0; i < entries; i++) {
      var entry = ifd0 + 2 + i * 12;
      if (view.getUint16(entry, little) === 0x8825) gpsOffset = tiff + view.getUint32(entry + 8, little);
    }
    if (gpsOffset === null) return null;
    var tags = {};
    var count = view.getUint16(gpsOffset, little);
    for (var j = 0; j < count; j++) {
      var e = gpsOffset + 2 + j * 12;
      var tag = view.getUint16(e, little);
      if (tag === 1 || tag === 3) {
        tags[tag] = String.fromCharCode(view.getUint8(e + 8));
      } else if (tag === 2 || tag === 4) {
        var at = tiff + view.getUint32(e + 8, little);
        tags[tag] = readRational(view, at, little) + readRational(view, at + 8, little) / 60 +
          readRational(view, at + 16, little) / 3600;
      }
    }
    if (tags[2] === undefined || tags[4] === undefined) return null;
    var lat = tags[1] === "S" ? -tags[2] : tags[2];
    var lon = tags[3] === "W" ? -tags[4] : tags[4];
    if (!lat && !lon) return null;
    return {lat: lat, lon: lon};
  }

  window.exifGps = function (file) {
    return file.slice(0, 262144).arrayBuffer().then(function (buffer) {
      try { return parse(buffer); } catch (error) { return null; }
    });
  };
})();
