/* Import job page: follow the job's progress every second; when it has finished, reload
   so that the server renders the report or the counts. */
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) return;
  var bar = box.querySelector("progress");
  var status = document.getElementById("import-status");
  var percent = box.querySelector("[data-role=percent]");

  function poll() {
    fetch(box.dataset.statusUrl, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (job) {
        bar.value = job.progress;
        status.textContent = job.label;
        percent.textContent = job.progress + "%";
        if (job.finished) window.location.reload();
        else setTimeout(poll, 1000);
      })
      // A dropped connection (a phone between cells) is retried, more slowly.
      .catch(function () { setTimeout(poll, 5000); });
  }

  setTimeout(poll, 1000);
})();
