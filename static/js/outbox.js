/* Reports kept on this phone. A report that cannot be sent (no connection on the street)
   is kept in the browser (IndexedDB: its fields and its photos) and sent as soon as the
   connection returns, from whatever GridGov page is open. Each report carries the form's
   own key (its "submission"), so a report sent twice, a tap repeated or a send whose answer
   was lost, makes one case. A kept report the server refuses waits for its author to open
   and correct it. Drafts belong to the person who wrote them: another person logged in on
   the same phone neither sees nor sends them. The box is #outbox (base.html, for people
   who report); report.js uses gridgov.outbox to send its form. */
(function () {
  "use strict";
  var box = document.getElementById("outbox");
  if (!box || !window.indexedDB || !window.fetch || !window.FormData || !window.Promise) return;
  var DB = "gridgov-outbox", STORE = "reports";
  var RETRY_MS = 30000;
  var EDITING_DAYS = 2;  // a refused report left uncorrected in its form is dropped after this
  var user = box.dataset.user;
  var reportUrl = box.dataset.reportUrl;
  var loginUrl = box.dataset.loginUrl;
  var flushing = false;
  var sentNow = [];  // {reference, url} sent from this page since it opened

  function database() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, {keyPath: "submission"});
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function store(mode, work) {
    return database().then(function (db) {
      return new Promise(function (resolve, reject) {
        var transaction = db.transaction(STORE, mode);
        var result = work(transaction.objectStore(STORE));
        transaction.oncomplete = function () {
          db.close();
          resolve(result && "result" in result ? result.result : undefined);
        };
        transaction.onerror = function () { db.close(); reject(transaction.error); };
      });
    });
  }

  function get(submission) {
    return store("readonly", function (s) { return s.get(submission); }).then(function (draft) {
      return draft && draft.user === user ? draft : null;
    });
  }
  function keep(draft) { return store("readwrite", function (s) { s.put(draft); }); }
  function remove(submission) { return store("readwrite", function (s) { s.delete(submission); }); }
  function mine() {
    return store("readonly", function (s) { return s.getAll(); }).then(function (all) {
      return (all || []).filter(function (d) { return d.user === user; })
        .sort(function (a, b) { return a.saved - b.saved; });
    });
  }

  /* The report form as a draft: its fields (not the token) and its photos. */
  function draftOf(form) {
    var fields = [];
    var files = [];
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled || input.name === "csrfmiddlewaretoken") return;
      if (input.type === "file") {
        Array.prototype.forEach.call(input.files, function (f) { files.push(f); });
      } else if ((input.type === "checkbox" || input.type === "radio") && !input.checked) {
        return;
      } else if (input.tagName !== "BUTTON") {
        fields.push([input.name, input.value]);
      }
    });
    var submission = (fields.filter(function (f) { return f[0] === "submission"; })[0] || [])[1];
    return {
      submission: submission, user: user, fields: fields, files: files,
      saved: Date.now(), state: "waiting"
    };
  }

  function token() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  /* Send a draft. Resolves to {outcome: "sent", case}, "offline", "login" (the session
     ended) or "refused" (the server answered with the form and its errors: html). */
  function send(draft, sender) {
    var data = new FormData();
    draft.fields.forEach(function (f) { data.append(f[0], f[1]); });
    draft.files.forEach(function (f) { data.append("photos", f, f.name); });
    data.append("csrfmiddlewaretoken", token());
    return fetch(reportUrl, {
      method: "POST", body: data, credentials: "same-origin",
      headers: {"X-GridGov-Outbox": sender}
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.ok && type.indexOf("application/json") === 0) {
        return response.json().then(function (found) { return {outcome: "sent", case: found}; });
      }
      if (response.redirected && new URL(response.url).pathname === new URL(loginUrl, location.href).pathname) {
        return {outcome: "login"};
      }
      if (response.status === 403) return {outcome: "login"};  // a token from an ended session
      return response.text().then(function (html) {
        return {outcome: "refused", status: response.status, html: html};
      });
    }, function () {
      return {outcome: "offline"};
    }).then(function (result) {
      // Whether the list should ask the person to log in again.
      if (result.outcome === "login") box.dataset.stopped = "login";
      else if (result.outcome === "sent") box.dataset.stopped = "";
      return result;
    });
  }

  /* Send every waiting report of this person, oldest first; stop at the first that finds
     no connection. */
  function flush() {
    if (flushing) return Promise.resolve();
    flushing = true;
    var stopped = null;
    return mine().then(function (drafts) {
      var waiting = drafts.filter(function (d) { return d.state === "waiting"; });
      return waiting.reduce(function (chain, draft) {
        return chain.then(function () {
          if (stopped) return null;
          return send(draft, "kept").then(function (result) {
            if (result.outcome === "sent") {
              sentNow.push(result.case);
              return remove(draft.submission);
            }
            if (result.outcome === "refused") {
              draft.state = "correct";
              return keep(draft);
            }
            stopped = result.outcome;
            return null;
          });
        });
      }, Promise.resolve());
    }).then(function () {
      if (stopped === "offline") box.dataset.stopped = "offline";
      return show();
    }, function () {}).then(function () { flushing = false; }, function () { flushing = false; });
  }

  function link(text, href) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    return a;
  }

  function line(parts) {
    var li = document.createElement("li");
    li.className = "message";
    parts.forEach(function (part) {
      li.appendChild(typeof part === "string" ? document.createTextNode(part) : part);
    });
    return li;
  }

  /* What the person should know: reports still waiting, reports to correct, reports
     just sent. */
  function show() {
    return mine().then(function (drafts) {
      var now = Date.now();
      drafts.forEach(function (d) {
        if (d.state === "editing" && now - d.saved > EDITING_DAYS * 864e5) remove(d.submission);
      });
      var waiting = drafts.filter(function (d) { return d.state === "waiting"; });
      var correct = drafts.filter(function (d) { return d.state === "correct"; });
      var list = document.createDocumentFragment();
      if (waiting.length) {
        var text = interpolate(ngettext(
          "%s report is kept on this phone and will be sent when the connection returns.",
          "%s reports are kept on this phone and will be sent when the connection returns.",
          waiting.length), [waiting.length]);
        var parts = [text];
        if (box.dataset.stopped === "login") {
          parts.push(" ", link(gettext("Log in again to send."),
            loginUrl + "?next=" + encodeURIComponent(location.pathname)));
        }
        list.appendChild(line(parts));
      }
      correct.forEach(function (d) {
        list.appendChild(line([
          gettext("A kept report was not accepted: "),
          link(gettext("open it to correct it"), reportUrl + "?draft=" + d.submission), "."
        ]));
      });
      sentNow.forEach(function (found) {
        list.appendChild(line([
          gettext("A kept report was sent: "), link(interpolate(gettext("case %s"), [found.reference]), found.url), "."
        ]));
      });
      box.innerHTML = "";
      box.appendChild(list);
      box.hidden = !box.children.length;
      box.dataset.waiting = String(waiting.length);
      return drafts;
    });
  }

  // Logging out deletes the report page's copies (report_offline.js): the next person on
  // this phone must not open this person's page with no connection. Kept reports stay,
  // for their author to send.
  var logout = document.getElementById("logout");
  if (logout && window.caches) {
    logout.form.addEventListener("submit", function (event) {
      if (logout.form.dataset.cleared) return;
      event.preventDefault();
      caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf("gridgov-report-") === 0;
        }).map(function (name) { return caches.delete(name); }));
      }).catch(function () {}).then(function () {
        logout.form.dataset.cleared = "1";
        logout.form.submit();
      });
    });
  }

  window.addEventListener("online", flush);
  setInterval(function () {
    if (!document.hidden && box.dataset.waiting && box.dataset.waiting !== "0") flush();
  }, RETRY_MS);
  flush();

  window.gridgov = window.gridgov || {};
  window.gridgov.outbox = {
    draftOf: draftOf, keep: keep, get: get, remove: remove, send: send, flush: flush, show: show
  };
})();
