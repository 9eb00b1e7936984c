// The API reference: Redoc renders the OpenAPI schema named by the container.
(function () {
  "use strict";
  var container = document.getElementById("redoc-container");
  Redoc.init(container.dataset.schemaUrl, { hideDownloadButton: false }, container);
})();
