// Polls an export job until its file is ready, moving the progress bar.
(function () {
  "use strict";
  var box = document.getElementById("export-job");
  if (!box) return;
  var url = box.dataset.statusUrl;
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (job) {
        document.getElementById("export-progress").value = job.percent;
        document.getElementById("export-status").textContent = job.status_label;
        document.getElementById("export-rows").textContent = job.rows;
        document.getElementById("export-total").textContent = job.total;
        if (job.error) {
          var e = document.getElementById("export-error");
          e.textContent = job.error;
          e.hidden = false;
        }
        if (job.download) document.getElementById("export-download").hidden = false;
        if (job.status === "queued" || job.status === "running") setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  tick();
})();
