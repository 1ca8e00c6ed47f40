// Upload page: drag and drop files or folders (or pick them), send each file through the API with
// its own progress bar, say in plain words what happened to it, then follow its tagging status.
// Without JavaScript the same form posts to UploadView.
(function () {
  "use strict";

  var A = window.Assetsite;
  var form = document.getElementById("upload-form");
  if (!form || !A || !window.XMLHttpRequest || !window.FormData) return;

  var input = document.getElementById("id_files");
  var folderInput = document.getElementById("id_folder");
  var dropzone = document.getElementById("dropzone");
  var section = document.getElementById("upload-progress");
  var list = document.getElementById("upload-list");
  var overall = document.getElementById("overall-progress");
  var summary = document.getElementById("overall-summary");
  var queueLine = document.getElementById("queue-status");
  var apiUrl = form.getAttribute("data-api-url");
  var maxBytes = Number(form.getAttribute("data-max-bytes")) || Infinity;
  var PARALLEL = 3;
  var POLL_MS = 1200;
  var items = [];
  var active = 0;
  var pollTimer = null;

  // Files start uploading as soon as they are picked or dropped: no separate button press.
  input.required = false;
  document.getElementById("upload-submit").hidden = true;
  if (!("webkitdirectory" in folderInput)) folderInput.parentNode.hidden = true;

  function megabytes(bytes) {
    return bytes >= 1e6 ? (bytes / 1e6).toFixed(1) + " MB" : Math.max(1, Math.round(bytes / 1e3)) + " KB";
  }

  function render(item) {
    var li = document.createElement("li");
    li.className = "upload-item";
    li.id = "upload-" + item.index;
    li.setAttribute("data-state", "queued");
    var thumb = document.createElement("img");
    thumb.className = "thumb";
    thumb.alt = "";
    if (/^image\/(jpeg|png|gif|webp)$/.test(item.file.type) && item.file.size < 20e6) {
      thumb.src = URL.createObjectURL(item.file);
      thumb.onload = function () { URL.revokeObjectURL(thumb.src); };
      // Named like a picture but not one: a plain box, never the browser's broken-image icon.
      thumb.onerror = function () { URL.revokeObjectURL(thumb.src); placeholder(item, "thumb-none"); };
    } else {
      thumb.className = "thumb thumb-none";
    }
    var name = document.createElement("span");
    name.className = "file-name";
    name.textContent = item.name;
    name.title = item.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.id = "upload-bar-" + item.index;
    bar.setAttribute("aria-label", "Upload of " + item.name);
    bar.textContent = "0%";
    var status = document.createElement("span");
    status.className = "file-status";
    status.textContent = "Waiting to upload (" + megabytes(item.file.size) + ")";
    li.append(thumb, name, bar, status);
    item.el = li;
    item.thumb = thumb;
    item.bar = bar;
    item.status = status;
    list.appendChild(li);
  }

  function placeholder(item, kind) {
    var mark = document.createElement("span");
    mark.className = "thumb " + kind;
    mark.setAttribute("aria-hidden", "true");
    mark.textContent = kind === "thumb-refused" ? "✕" : "";
    if (item.thumb.parentNode) item.thumb.parentNode.replaceChild(mark, item.thumb);
    item.thumb = mark;
  }

  function showThumb(item, url) {
    var img = item.thumb;
    if (img.tagName !== "IMG") {
      img = document.createElement("img");
      img.alt = "";
      item.thumb.parentNode.replaceChild(img, item.thumb);
      item.thumb = img;
    }
    img.className = "thumb";
    img.onload = null;
    img.onerror = function () { placeholder(item, "thumb-none"); };
    img.src = url;
  }

  // Refused or not sent: no bar pretending it is complete, no picture of something that is not one.
  function showFailed(item, text, refused) {
    item.bar.hidden = true;
    item.bar.value = 0;
    if (refused) placeholder(item, "thumb-refused");
    setState(item, "error", text);
  }

  function setState(item, state, text) {
    item.state = state;
    item.el.setAttribute("data-state", state);
    if (text !== undefined) {
      item.status.textContent = text;
    }
    refreshSummary();
  }

  function setProgress(item, loaded) {
    item.loaded = Math.min(loaded, item.file.size);
    var percent = item.file.size ? Math.round((100 * item.loaded) / item.file.size) : 100;
    item.bar.value = percent;
    item.bar.textContent = percent + "%";
    var sent = 0, total = 0;
    items.forEach(function (each) {
      total += each.file.size || 1;
      sent += each.finishedUpload ? each.file.size || 1 : each.loaded;
    });
    var overallPercent = total ? Math.round((100 * sent) / total) : 0;
    overall.value = overallPercent;
    overall.textContent = overallPercent + "%";
  }

  function count(states) {
    return items.filter(function (item) { return states.indexOf(item.state) >= 0; }).length;
  }

  // Said aloud only when it changes, so the per-file percentages do not flood a screen reader.
  function refreshSummary() {
    var total = items.length;
    var uploading = count(["queued", "uploading"]);
    var uploaded = count(["uploaded", "pending", "processing", "tagged", "failed"]);
    var duplicates = items.filter(function (item) { return item.duplicate; }).length;
    var refused = count(["error"]);
    // The same words as each file's line: waiting for a worker (a backlog) is not being tagged.
    var waiting = count(["uploaded", "pending"]);
    var tagging = count(["processing"]);
    var tagged = count(["tagged"]);
    var failed = count(["failed"]);
    var parts = [uploaded + " of " + total + " uploaded" + (duplicates ? " (" + duplicates + " already in your library)" : "")];
    if (uploading) parts.push(uploading + " uploading");
    if (refused) parts.push(refused + " refused");
    if (waiting) parts.push(waiting + " waiting for a worker");
    if (tagging) parts.push(tagging + " being tagged");
    if (tagged) parts.push(tagged + " tagged");
    if (failed) parts.push(failed + " failed to tag");
    var text = (uploading || waiting || tagging ? "" : "Done: ") + parts.join(" · ") + ".";
    if (summary.textContent !== text) summary.textContent = text;
  }

  function addFiles(files) {
    if (!files.length) return;
    section.hidden = false;
    files.forEach(function (entry) {
      var item = {
        index: items.length,
        file: entry.file,
        name: entry.path || entry.file.name,
        loaded: 0,
        state: "queued",
        attempts: 0,
      };
      items.push(item);
      render(item);
      setProgress(item, 0);
    });
    refreshSummary();
    A.announce(files.length + " file" + (files.length === 1 ? "" : "s") + " added.");
    pump();
  }

  function pump() {
    while (active < PARALLEL) {
      var now = Date.now();
      // An item told to wait (Retry-After) is skipped until its time; its own timer pumps again.
      var next = items.find(function (item) { return item.state === "queued" && !(item.notBefore > now); });
      if (!next) break;
      send(next);
    }
  }

  function send(item) {
    if (item.file.size > maxBytes) {
      item.finishedUpload = true;
      setProgress(item, 0);
      showFailed(item, "Not uploaded: " + megabytes(item.file.size) + " is larger than the limit of " +
        megabytes(maxBytes) + ".", true);
      return;
    }
    active += 1;
    item.attempts += 1;
    setState(item, "uploading", "Uploading… 0%");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", apiUrl);
    xhr.setRequestHeader("X-CSRFToken", A.csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.responseType = "text";
    xhr.upload.onprogress = function (event) {
      if (!event.lengthComputable) return;
      // The request body is a little larger than the file (multipart headers): scale to the file.
      setProgress(item, (event.loaded / event.total) * item.file.size);
      item.status.textContent = "Uploading… " + item.bar.value + "%";
    };
    xhr.onload = function () {
      active -= 1;
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (error) { data = null; }
      finish(item, xhr.status, data, xhr.getResponseHeader("Retry-After"));
      pump();
    };
    xhr.onerror = xhr.onabort = function () {
      active -= 1;
      finish(item, 0, null, null);
      pump();
    };
    var body = new FormData();
    body.append("file", item.file, item.file.name);
    xhr.send(body);
  }

  function finish(item, status, data, retryAfter) {
    if ((status === 201 || status === 200) && data && data.id) {
      item.finishedUpload = true;
      setProgress(item, item.file.size);
      item.asset = data;
      item.duplicate = status === 200;
      item.restored = status === 200 && data.restored_from_trash === true;
      link(item, data);
      if (data.urls && data.urls.thumbnail_small) showThumb(item, data.urls.thumbnail_small);
      showStatus(item, data);
      schedulePoll();
      return;
    }
    // Too many requests, or the database restarting: the same request will work in a moment.
    if ((status === 429 || status === 503) && item.attempts < 4) {
      var wait = Math.min(Number(retryAfter) || 5, 60);
      item.notBefore = Date.now() + wait * 1000;
      setState(item, "queued", (status === 503 ? "The server is not ready" : "The server is busy") +
        "; trying again in " + wait + " s.");
      setTimeout(pump, wait * 1000 + 50);
      return;
    }
    item.finishedUpload = true;
    setProgress(item, item.file.size);  // done with, for the overall bar
    // The server names the file in its message; the list already does.
    var message = A.problem(status, data);
    if (message.indexOf(item.file.name + ": ") === 0) message = message.slice(item.file.name.length + 2);
    var notSent = status === 0 || status === 401 || status === 403 || status >= 500;
    showFailed(item, (notSent ? "Not uploaded: " : "Refused: ") + message, !notSent && status !== 429);
    if (notSent || status === 429) addRetry(item);
  }

  function addRetry(item) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "retry secondary";
    button.textContent = "Retry";
    button.setAttribute("aria-label", "Retry " + item.name);
    button.addEventListener("click", function () {
      button.remove();
      item.finishedUpload = false;
      item.attempts = 0;
      item.bar.hidden = false;
      setProgress(item, 0);
      setState(item, "queued", "Waiting to upload");
      pump();
    });
    item.status.appendChild(button);
  }

  function link(item, data) {
    var anchor = document.createElement("a");
    anchor.href = data.urls.page;
    anchor.textContent = item.name;
    anchor.className = "file-name";
    anchor.title = item.name;
    item.el.replaceChild(anchor, item.el.querySelector(".file-name"));
  }

  var WORDS = {
    pending: "waiting for a worker to find objects…",
    processing: "finding objects…",
  };

  function showStatus(item, data) {
    var prefix = item.restored
      ? "Restored from the trash (the same image was deleted before; its tags and collections are back); "
      : item.duplicate ? "Already in your library (the same image was uploaded before); " : "Uploaded; ";
    if (data.status === "tagged") {
      var labels = (data.tags || []).map(function (tag) { return tag.label; });
      setState(item, "tagged", prefix + (labels.length ? "tagged:" : "tagged: nothing recognised."));
      if (item.duplicate) item.el.setAttribute("data-state", "duplicate");
      if (labels.length) {
        var chips = document.createElement("span");
        chips.className = "chips";
        (data.tags || []).forEach(function (tag) { chips.appendChild(A.chip(tag.label, tag.count)); });
        item.status.appendChild(document.createTextNode(" "));
        item.status.appendChild(chips);
      }
    } else if (data.status === "failed") {
      setState(item, "failed", prefix + "tagging failed: " + (data.error || "no reason given."));
    } else {
      var words = WORDS[data.status] || data.status;
      if (data.status === "pending" && item.place) words = "waiting for a worker: number " + item.place + " in the queue…";
      setState(item, data.status, prefix + words);
      if (item.duplicate) item.el.setAttribute("data-state", "duplicate");
    }
  }

  // Each waiting file's place in the queue, and "12 waiting · about 40 s" for all of the user's work.
  function pollQueue(waiting) {
    var pending = waiting.filter(function (item) { return item.state === "pending"; }).slice(0, 200);
    var query = pending.map(function (item) { return "asset=" + encodeURIComponent(item.asset.id); }).join("&");
    var url = queueLine.getAttribute("data-api-url") + (query ? "?" + query : "");
    return A.api("GET", url).then(function (result) {
      if (!result.ok || !result.data) return;
      var places = {};
      result.data.positions.forEach(function (entry) { places[entry.id] = entry.position; });
      pending.forEach(function (item) {
        var place = places[item.asset.id];
        if (place !== item.place) {
          item.place = place;
          if (item.state === "pending") showStatus(item, item.asset);
        }
      });
      if (queueLine.textContent !== result.data.summary) queueLine.textContent = result.data.summary;
      queueLine.hidden = !result.data.summary;
    });
  }

  function schedulePoll() {
    if (pollTimer === null) pollTimer = setTimeout(poll, POLL_MS);
  }

  function poll() {
    pollTimer = null;
    var waiting = items.filter(function (item) {
      return item.asset && (item.state === "pending" || item.state === "processing" || item.state === "uploaded");
    });
    if (!waiting.length) {
      // The user's other work (a re-tag) may still wait: follow the line until it is empty.
      if (queueLine && !queueLine.hidden) pollQueue([]).then(function () { if (!queueLine.hidden) schedulePoll(); });
      return;
    }
    Promise.all(waiting.map(function (item) {
      return A.api("GET", item.asset.urls.api).then(function (result) {
        if (result.ok && result.data) {
          var changed = result.data.status !== item.asset.status;
          item.asset = result.data;
          if (changed) showStatus(item, result.data);
        }
      });
    })).then(function () { return queueLine ? pollQueue(waiting) : null; }).then(schedulePoll);
  }

  // --- picking and dropping ----------------------------------------------------------------------

  function fromList(fileList) {
    return Array.prototype.map.call(fileList, function (file) {
      return { file: file, path: file.webkitRelativePath || file.name };
    });
  }

  input.addEventListener("change", function () {
    addFiles(fromList(input.files));
    input.value = "";
  });
  folderInput.addEventListener("change", function () {
    // Hidden files (.DS_Store and the like) are not pictures anyone meant to upload.
    addFiles(fromList(folderInput.files).filter(function (entry) { return !/(^|\/)\./.test(entry.path); }));
    folderInput.value = "";
  });
  // Pressing Enter on the form (no button left to press) must not post the empty form.
  form.addEventListener("submit", function (event) { event.preventDefault(); });

  function readEntry(entry, path) {
    if (entry.isFile) {
      return new Promise(function (resolve) {
        entry.file(function (file) { resolve([{ file: file, path: path + file.name }]); }, function () { resolve([]); });
      });
    }
    if (!entry.isDirectory) return Promise.resolve([]);
    var reader = entry.createReader();
    var found = [];
    // readEntries answers in batches (100 in Chromium) until it returns none.
    function batch() {
      return new Promise(function (resolve) { reader.readEntries(resolve, function () { resolve([]); }); })
        .then(function (entries) {
          if (!entries.length) return found;
          var visible = entries.filter(function (child) { return child.name.charAt(0) !== "."; });
          return Promise.all(visible.map(function (child) { return readEntry(child, path + entry.name + "/"); }))
            .then(function (groups) {
              groups.forEach(function (group) { found = found.concat(group); });
              return batch();
            });
        });
    }
    return batch();
  }

  function dropped(dataTransfer) {
    var entries = [];
    if (dataTransfer.items && dataTransfer.items.length && dataTransfer.items[0].webkitGetAsEntry) {
      Array.prototype.forEach.call(dataTransfer.items, function (item) {
        var entry = item.kind === "file" ? item.webkitGetAsEntry() : null;
        if (entry) entries.push(entry);
      });
    }
    if (entries.some(function (entry) { return entry.isDirectory; })) {
      Promise.all(entries.map(function (entry) { return readEntry(entry, ""); })).then(function (groups) {
        addFiles([].concat.apply([], groups));
      });
    } else {
      addFiles(fromList(dataTransfer.files));
    }
  }

  var depth = 0;
  function hasFiles(event) {
    return event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types || [], "Files") >= 0;
  }
  // Dropping anywhere on the page uploads, so a near miss does not open the file in the tab.
  document.addEventListener("dragenter", function (event) {
    if (!hasFiles(event)) return;
    depth += 1;
    dropzone.classList.add("is-over");
  });
  document.addEventListener("dragleave", function () {
    depth = Math.max(0, depth - 1);
    if (!depth) dropzone.classList.remove("is-over");
  });
  document.addEventListener("dragover", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("drop", function (event) {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    dropzone.classList.remove("is-over");
    dropped(event.dataTransfer);
  });

  window.addEventListener("beforeunload", function (event) {
    if (active > 0 || items.some(function (item) { return item.state === "queued"; })) {
      event.preventDefault();
      event.returnValue = "";
    }
  });
})();
