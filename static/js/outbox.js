/* Forms kept on this phone. A report, or an action on a case page (a check on site with its
   photo, a handling reported done), that cannot be sent (no connection on the street) is
   kept in the browser (IndexedDB: its fields and its photos) and sent as soon as the
   connection returns, from whatever GridGov page is open. A report carries the form's own
   key (its "submission") and an action the case's version, so a form sent twice, a tap
   repeated or a send whose answer was lost, takes effect once. A kept form the server
   refuses waits for its author to open and correct it, or to discard it. Drafts belong to
   the person who wrote them: another person logged in on the same phone neither sees nor
   sends them. The list is #outbox (base.html); forms with data-outbox-action send through
   the outbox, and report.js sends the report form with gridgov.outbox.attach. */
(function () {
  "use strict";
  var box = document.getElementById("outbox");
  if (!box || !window.indexedDB || !window.fetch || !window.FormData || !window.Promise) return;
  var DB = "gridgov-outbox", STORE = "reports";
  var RETRY_MS = 30000;
  var EDITING_DAYS = 2;  // a form sent back with errors and left uncorrected is dropped after this
  var user = box.dataset.user;
  var reportUrl = box.dataset.reportUrl;
  var loginUrl = box.dataset.loginUrl;
  var flushing = false;
  var sentNow = [];  // {reference, url, kind} sent from this page since it opened

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

  /* A form as a draft under ``key``: its fields (not the token), its photos, where it is
     sent and the page it was filled in on. */
  function draftOf(form, key, kind, submitter) {
    var fields = [];
    var files = [];
    var fileField = "photos";
    Array.prototype.forEach.call(form.elements, function (input) {
      if (!input.name || input.disabled || input.name === "csrfmiddlewaretoken") return;
      if (input.type === "file") {
        fileField = input.name;
        Array.prototype.forEach.call(input.files, function (f) { files.push(f); });
      } else if ((input.type === "checkbox" || input.type === "radio") && !input.checked) {
        return;
      } else if (input.tagName !== "BUTTON") {
        fields.push([input.name, input.value]);
      }
    });
    // The button that sent the form, when it says something ("Report this too": join).
    if (submitter && submitter.name) fields.push([submitter.name, submitter.value]);
    return {
      submission: key, kind: kind, user: user, url: form.action, page: location.pathname,
      fields: fields, files: files, fileField: fileField, saved: Date.now(), state: "waiting"
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
    draft.files.forEach(function (f) { data.append(draft.fileField || "photos", f, f.name); });
    data.append("csrfmiddlewaretoken", token());
    return fetch(draft.url || reportUrl, {
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
              result.case.kind = draft.kind;
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
      var reports = waiting.filter(function (d) { return d.kind !== "action"; }).length;
      var actions = waiting.length - reports;
      var lines = [];
      if (reports) {
        lines.push([interpolate(ngettext(
          "%s report is kept on this phone and will be sent when the connection returns.",
          "%s reports are kept on this phone and will be sent when the connection returns.",
          reports), [reports])]);
      }
      if (actions) {
        lines.push([interpolate(ngettext(
          "%s action on a case is kept on this phone and will be sent when the connection returns.",
          "%s actions on cases are kept on this phone and will be sent when the connection returns.",
          actions), [actions])]);
      }
      if (lines.length && box.dataset.stopped === "login") {
        lines[lines.length - 1].push(" ", link(gettext("Log in again to send."),
          loginUrl + "?next=" + encodeURIComponent(location.pathname)));
      }
      drafts.filter(function (d) { return d.state === "correct"; }).forEach(function (d) {
        var discard = document.createElement("button");
        discard.type = "button";
        discard.className = "linklike";
        discard.textContent = gettext("discard it");
        discard.addEventListener("click", function () { remove(d.submission).then(show); });
        lines.push([
          d.kind === "action" ? gettext("A kept action was not accepted: ")
            : gettext("A kept report was not accepted: "),
          link(gettext("open it to correct it"), d.page + "?draft=" + encodeURIComponent(d.submission)),
          " · ", discard
        ]);
      });
      sentNow.forEach(function (found) {
        lines.push([
          found.kind === "action" ? gettext("A kept action was sent: ")
            : gettext("A kept report was sent: "),
          link(interpolate(gettext("case %s"), [found.reference]), found.url), "."
        ]);
      });
      box.innerHTML = "";
      lines.forEach(function (parts) { box.appendChild(line(parts)); });
      box.hidden = !box.children.length;
      box.dataset.waiting = String(waiting.length);
      return drafts;
    });
  }

  /* Send ``form`` through the outbox when it is submitted. options: key() (the draft's
     key), kind ("report" or "action"), state (where "Sending…" shows), kept(outcome) (shows
     that the form waits on the phone: "offline" or "login"), replaces() (the key of a
     draft this form was opened from, if any). */
  function attach(form, options) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (form.dataset.sending) return;  // a second tap while the first is on its way
      form.dataset.sending = "1";
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      if (options.state) options.state.textContent = gettext("Sending…");
      var draft = draftOf(form, options.key(), options.kind, event.submitter);
      var replaced = options.replaces ? options.replaces() : null;
      // Kept before it is sent: if the page closes meanwhile, the outbox sends it later. A
      // draft opened to be corrected gives way to this one.
      (replaced && replaced !== draft.submission ? remove(replaced) : Promise.resolve()).then(function () {
        return keep(draft);
      }).then(function () {
        return send(draft, "page");
      }).then(function (result) {
        if (result.outcome === "sent") {
          return remove(draft.submission).then(function () { location.assign(result.case.url); });
        }
        if (result.outcome === "refused") {
          // The form came back with its errors (or the nearby cases): shown in place of
          // this page, whose script puts the photos back from the draft.
          draft.state = "editing";
          return keep(draft).then(function () {
            document.open();
            document.write(result.html);
            document.close();
          });
        }
        options.kept(result.outcome);
        return show();
      }).catch(function () {
        // The browser could not keep the draft (private mode, storage full): post as usual,
        // with what the button that sent it says (submit() sends no button).
        var submitter = event.submitter;
        if (submitter && submitter.name) {
          var said = document.createElement("input");
          said.type = "hidden";
          said.name = submitter.name;
          said.value = submitter.value;
          form.appendChild(said);
        }
        form.submit();
      });
    });
  }

  /* The draft kept under ``key`` back in ``form``: its photos into an empty photo field
     (the form came back with an error), and its other fields too when ``fields`` (opened
     from the list). Resolves to the draft, or null. */
  function restore(form, key, fields) {
    return get(key).then(function (draft) {
      if (!draft) return null;
      if (fields) {
        var values = {};
        draft.fields.forEach(function (f) { values[f[0]] = f[1]; });
        Array.prototype.forEach.call(form.elements, function (input) {
          if (!input.name || !(input.name in values) || input.type === "file") return;
          if (input.name === "csrfmiddlewaretoken" || input.name === "submission") return;
          if (/-version$/.test(input.name)) return;  // the case as it is now
          if (input.type === "checkbox") input.checked = true;
          else input.value = values[input.name];
        });
      }
      var photos = form.querySelector("input[type=file]");
      draft.restored = 0;
      // Files the server refused (not a photo, too large) are not put back: sent again
      // they would be refused again. The draft forgets them.
      if (photos && draft.files.length && form.querySelector('.error[data-for="' + photos.name + '"]')) {
        draft.files = [];
        return keep(draft).then(function () { return draft; });
      }
      if (photos && draft.files.length && !photos.files.length && window.DataTransfer) {
        var transfer = new DataTransfer();
        draft.files.forEach(function (f) { transfer.items.add(f); });
        photos.files = transfer.files;
        draft.restored = draft.files.length;
      }
      return draft;
    });
  }

  function photosKept(count) {
    return interpolate(ngettext("%s photo kept from the last try.",
      "%s photos kept from the last try.", count), [count]);
  }

  /* The case page's action forms: each kept under its case, action and the case's version
     (sent again, the server finds it done); opened from the list (?draft=), the form of
     the same action takes the draft whatever the case's version is now. */
  var opening = new URLSearchParams(location.search).get("draft");
  Array.prototype.forEach.call(document.querySelectorAll("form[data-outbox-action]"), function (form) {
    var version = form.querySelector("input[name$='-version']");
    // Keys are shared by everyone on the phone: the person's own id is part of it.
    var prefix = "action:" + user + ":" + new URL(form.action).pathname + ":";
    var key = prefix + (version ? version.value : "");
    // Shown again on a newer version of the case (it changed meanwhile): the copy kept
    // under the version it was sent on holds its photos, and gives way when it is sent.
    var was = "outboxWas" in form.dataset ? prefix + form.dataset.outboxWas : null;
    var note = document.createElement("p");
    note.className = "hint";
    note.setAttribute("aria-live", "polite");
    form.appendChild(note);
    var opened = opening && opening.indexOf(prefix) === 0;
    attach(form, {
      key: function () { return key; },
      replaces: function () { return opened ? opening : was; },
      kind: "action",
      state: note,
      kept: function (outcome) {
        note.textContent = outcome === "login"
          ? gettext("Your session has ended: this is kept on this phone and will be sent once you log in again.")
          : gettext("No connection: this is kept on this phone and will be sent as soon as the connection returns.");
      }
    });
    restore(form, opened ? opening : (was || key), opened).then(function (draft) {
      if (!draft) return;
      if (opened) {
        form.closest("details").open = true;
        form.scrollIntoView();
      }
      if (draft.restored) note.textContent = photosKept(draft.restored);
    });
  });

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
  var retry = setInterval(function () {
    // A page replaced in place (a form sent back with its errors) keeps its timers: the
    // new page's script does the sending.
    if (!document.documentElement.contains(box)) return clearInterval(retry);
    if (!document.hidden && box.dataset.waiting && box.dataset.waiting !== "0") flush();
  }, RETRY_MS);
  flush();

  window.gridgov = window.gridgov || {};
  window.gridgov.outbox = {
    attach: attach, restore: restore, photosKept: photosKept, show: show
  };
})();
