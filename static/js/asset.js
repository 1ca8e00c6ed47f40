// Asset page: boxes linked to their table rows (hover or focus one, the other lights up), label
// toggles, a confidence slider, drawing a box for a new tag, review actions through the API with the
// page refreshed in place, and live tagging status. The forms still post to the views without it.
(function () {
  "use strict";

  var A = window.Assetsite;
  if (!A || !document.getElementById("asset-view")) return;

  // Survives the in-place refreshes after each action.
  var state = { minConfidence: 0, captions: true, hidden: {} };
  var pollTimer = null;
  var stopDrawing = function () { return false; };

  // Once for the page (the view's contents are replaced by refreshes, the document is not).
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && stopDrawing()) event.preventDefault();
  });

  function view() { return document.getElementById("asset-view"); }

  function init() {
    var root = view();
    A.revealJsOnly(root);
    initViewer(root);
    initForms(root);
    initDrawing(root);
    watchStatus(root);
  }

  // --- boxes, rows, toggles, slider -------------------------------------------------------------

  function pairs(root, id) {
    return root.querySelectorAll('.box[data-detection-id="' + id + '"], .detection-row[data-detection-id="' + id + '"]');
  }

  function highlight(root, id, on) {
    pairs(root, id).forEach(function (element) { element.classList.toggle("is-highlighted", on); });
  }

  function apply(root) {
    var boxes = root.querySelectorAll(".box");
    var shown = 0;
    boxes.forEach(function (box) {
      var weak = Number(box.getAttribute("data-confidence")) < state.minConfidence;
      var off = state.hidden[box.getAttribute("data-label")] === true;
      box.classList.toggle("is-hidden", weak || off);
      if (!weak && !off) shown += 1;
    });
    root.querySelectorAll(".detection-row").forEach(function (row) {
      row.classList.toggle("is-weak", Number(row.getAttribute("data-confidence")) < state.minConfidence);
    });
    var boxed = root.querySelector("#boxed");
    if (boxed) boxed.classList.toggle("no-captions", !state.captions);
    var note = root.querySelector("#viewer-note");
    if (note && boxes.length) {
      note.textContent = "Showing " + shown + " of " + boxes.length + " box" + (boxes.length === 1 ? "" : "es") +
        "; each is listed under “Tags and boxes”.";
    }
  }

  function initViewer(root) {
    root.querySelectorAll(".box").forEach(function (box) {
      var id = box.getAttribute("data-detection-id");
      // A box touching the top edge gets its caption inside, where it can be seen.
      if (parseFloat(box.style.top) < 6) box.classList.add("at-top");
      // ...and one near the right edge gets it right-aligned, so it does not stick out of the image.
      if (parseFloat(box.style.left) + parseFloat(box.style.width) > 80) box.classList.add("at-right");
      box.addEventListener("mouseenter", function () { highlight(root, id, true); });
      box.addEventListener("mouseleave", function () { highlight(root, id, false); });
      box.addEventListener("click", function () {
        var row = root.querySelector('.detection-row[data-detection-id="' + id + '"]');
        if (row) row.scrollIntoView({ block: "nearest", behavior: "smooth" });
      });
    });
    root.querySelectorAll(".detection-row").forEach(function (row) {
      var id = row.getAttribute("data-detection-id");
      row.addEventListener("mouseenter", function () { highlight(root, id, true); });
      row.addEventListener("mouseleave", function () { highlight(root, id, false); });
      row.addEventListener("focusin", function () { highlight(root, id, true); });
      row.addEventListener("focusout", function () { highlight(root, id, false); });
    });
    var captions = root.querySelector("#show-captions");
    if (captions) {
      captions.checked = state.captions;
      captions.addEventListener("change", function () { state.captions = captions.checked; apply(root); });
    }
    var slider = root.querySelector("#min-confidence");
    var output = root.querySelector("#min-confidence-value");
    if (slider) {
      slider.value = String(state.minConfidence);
      output.textContent = state.minConfidence.toFixed(2);
      slider.addEventListener("input", function () {
        state.minConfidence = Number(slider.value);
        output.textContent = state.minConfidence.toFixed(2);
        apply(root);
      });
    }
    root.querySelectorAll("[data-label-toggle]").forEach(function (toggle) {
      var name = toggle.getAttribute("data-label-toggle");
      toggle.checked = state.hidden[name] !== true;
      toggle.addEventListener("change", function () { state.hidden[name] = !toggle.checked; apply(root); });
    });
    apply(root);
  }

  // --- review actions through the API -----------------------------------------------------------

  function say(root, text, isError) {
    var status = root.querySelector("#review-status");
    if (status) {
      status.textContent = text;
      status.classList.toggle("is-error", !!isError);
    }
    // Said through the page's lasting live region: this one is replaced by every refresh.
    A.announce(text);
  }

  function busy(form, on) {
    form.querySelectorAll("button").forEach(function (button) { button.disabled = on; });
    form.setAttribute("aria-busy", on ? "true" : "false");
  }

  // Fetch the page again and swap the asset view in place: no reload, scroll and focus kept.
  function refresh(focusId, message) {
    return fetch(location.pathname, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("asset-view");
        if (!fresh) return Promise.reject("no asset view");
        var root = view();
        root.innerHTML = fresh.innerHTML;
        root.setAttribute("data-status", fresh.getAttribute("data-status"));
        init();
        if (message) say(root, message, false);
        if (focusId === false) return;  // a status change nobody asked for: leave focus alone
        var target = focusId && document.getElementById(focusId);
        (target || root.querySelector("#review-status")).focus({ preventScroll: !!target });
      })
      .catch(function () {
        var root = view();
        root.querySelectorAll("form[aria-busy=true]").forEach(function (form) { busy(form, false); });
        if (focusId !== false) say(root, (message ? message + " " : "") + "The page could not be refreshed; reload it to see the change.", true);
      });
  }

  function rowAfter(form) {
    var row = form.closest("tr, li");
    var next = row && (row.nextElementSibling || row.previousElementSibling);
    var button = next && next.querySelector("button");
    return button ? button.id : "";
  }

  function submitReview(form, action) {
    var root = view();
    var url = form.getAttribute("data-api-url");
    var labelInput = form.querySelector("input[name=label]");
    var row = form.closest("[data-label]") || form.closest("li");
    var name = row && row.getAttribute("data-label") || "the tag";
    var request, done, focusId;
    if (action === "relabel") {
      var label = (labelInput.value || "").trim();
      if (!label) {
        say(root, "Type the new label first.", true);
        labelInput.focus();
        return;
      }
      request = A.api("PATCH", url, { label: label });
      done = "“" + name + "” is now “" + label.toLowerCase() + "” (accepted).";
      focusId = labelInput.id;
    } else if (action === "accept") {
      request = A.api("PATCH", url, { review: "accepted" });
      done = "Accepted “" + name + "”.";
      focusId = (form.querySelector("button[value=accept]") || {}).id;
    } else if (action === "reject") {
      request = A.api("PATCH", url, { review: "rejected" });
      done = "Rejected “" + name + "”. It stays hidden, also after re-tagging; Restore is under “Rejected”.";
      focusId = rowAfter(form);
    } else if (action === "remove") {
      request = A.api("DELETE", url);
      done = "Removed “" + name + "”.";
      focusId = rowAfter(form);
    } else {
      return;
    }
    busy(form, true);
    request.then(function (result) {
      if (!result.ok) {
        busy(form, false);
        say(root, result.message, true);
        return;
      }
      refresh(focusId, done);
    });
  }

  function submitNewTag(form) {
    var root = view();
    var label = form.querySelector("#add-label").value.trim();
    var error = form.querySelector("#add-tag-error");
    function fail(text, field) {
      error.textContent = text;
      error.hidden = false;
      form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
      if (field) {
        field.setAttribute("aria-invalid", "true");
        field.focus();
      }
    }
    if (!label) return fail("Type a label.", form.querySelector("#add-label"));
    var box = readBox(root);
    if (box && box.error) return fail(box.error, box.field);
    busy(form, true);
    A.api("POST", form.getAttribute("data-api-url"), box ? { label: label, box: box } : { label: label }).then(function (result) {
      if (!result.ok) {
        busy(form, false);
        return fail(result.message, null);
      }
      refresh("add-label", "Added the tag “" + result.data.label + "” " + (result.data.box ? "with a box." : "without a box."));
    });
  }

  function submitRetag(form) {
    busy(form, true);
    A.api("POST", form.getAttribute("data-api-url")).then(function (result) {
      if (!result.ok) {
        busy(form, false);
        say(view(), result.message, true);
        return;
      }
      refresh("tagging-status", "Re-tagging queued. Your accepted, relabelled, rejected and manual tags are kept.");
    });
  }

  function initForms(root) {
    root.querySelectorAll(".review-form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var action = event.submitter && event.submitter.value ? event.submitter.value
          : (form.querySelector("input[name=action]") || {}).value;
        submitReview(form, action);
      });
    });
    var add = root.querySelector("#add-tag-form");
    if (add) add.addEventListener("submit", function (event) { event.preventDefault(); submitNewTag(add); });
    var retag = root.querySelector("#retag-form");
    if (retag) retag.addEventListener("submit", function (event) { event.preventDefault(); submitRetag(retag); });
  }

  // --- drawing a box ------------------------------------------------------------------------------

  var FIELDS = ["x", "y", "width", "height"];

  function imageSize(root) {
    return { width: Number(root.getAttribute("data-width")), height: Number(root.getAttribute("data-height")) };
  }

  // The four fields as a box in image pixels; null when all are empty; {error, field} when wrong.
  function readBox(root) {
    var size = imageSize(root);
    var values = {}, empty = 0;
    for (var i = 0; i < FIELDS.length; i++) {
      var field = root.querySelector("#add-" + FIELDS[i]);
      var text = field.value.trim();
      if (text === "") { empty += 1; continue; }
      if (!/^\d+$/.test(text)) return { error: "The box's " + FIELDS[i] + " must be a whole number of pixels.", field: field };
      values[FIELDS[i]] = Number(text);
    }
    if (empty === FIELDS.length) return null;
    if (empty) return { error: "A box needs x, y, width and height. Fill in all four, or none for a tag without a box.", field: null };
    if (values.width < 1 || values.height < 1) return { error: "The box's width and height must be at least 1.", field: null };
    if (values.x + values.width > size.width || values.y + values.height > size.height) {
      return { error: "The box (" + values.x + ", " + values.y + ", " + values.width + "×" + values.height +
        ") does not fit in the " + size.width + "×" + size.height + " image.", field: null };
    }
    return values;
  }

  function showDrawn(root) {
    var preview = root.querySelector("#draw-box");
    if (!preview) return;
    var box = readBox(root);
    var size = imageSize(root);
    if (!box || box.error) { preview.hidden = true; return; }
    preview.hidden = false;
    preview.style.left = (100 * box.x) / size.width + "%";
    preview.style.top = (100 * box.y) / size.height + "%";
    preview.style.width = (100 * box.width) / size.width + "%";
    preview.style.height = (100 * box.height) / size.height + "%";
  }

  function initDrawing(root) {
    var boxed = root.querySelector("#boxed");
    var toggle = root.querySelector("#draw-toggle");
    var clear = root.querySelector("#box-clear");
    var image = root.querySelector("#asset-img");
    if (!boxed || !toggle || !image) return;
    var size = imageSize(root);
    var start = null;

    function setDrawing(on) {
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      toggle.textContent = on ? "Stop drawing" : "Draw a box";
      boxed.classList.toggle("is-drawing", on);
      if (on) {
        A.announce("Drag across the image to draw the box. Escape stops.");
        boxed.scrollIntoView({ block: "nearest" });
      }
    }

    function point(event) {
      var rect = image.getBoundingClientRect();
      return {
        x: Math.min(Math.max(event.clientX - rect.left, 0), rect.width),
        y: Math.min(Math.max(event.clientY - rect.top, 0), rect.height),
        rect: rect,
      };
    }

    function toFields(a, b) {
      var scaleX = size.width / a.rect.width, scaleY = size.height / a.rect.height;
      var x = Math.round(Math.min(a.x, b.x) * scaleX), y = Math.round(Math.min(a.y, b.y) * scaleY);
      var right = Math.round(Math.max(a.x, b.x) * scaleX), bottom = Math.round(Math.max(a.y, b.y) * scaleY);
      x = Math.min(x, size.width - 1);
      y = Math.min(y, size.height - 1);
      var values = { x: x, y: y, width: Math.max(1, Math.min(right, size.width) - x), height: Math.max(1, Math.min(bottom, size.height) - y) };
      FIELDS.forEach(function (name) { root.querySelector("#add-" + name).value = String(values[name]); });
      showDrawn(root);
      return values;
    }

    toggle.addEventListener("click", function () { setDrawing(toggle.getAttribute("aria-pressed") !== "true"); });
    clear.addEventListener("click", function () {
      FIELDS.forEach(function (name) { root.querySelector("#add-" + name).value = ""; });
      showDrawn(root);
      A.announce("Box cleared; the tag will have no box.");
    });
    FIELDS.forEach(function (name) {
      root.querySelector("#add-" + name).addEventListener("input", function () { showDrawn(root); });
    });
    boxed.addEventListener("pointerdown", function (event) {
      if (!boxed.classList.contains("is-drawing") || event.button !== 0) return;
      event.preventDefault();
      start = point(event);
      boxed.setPointerCapture(event.pointerId);
    });
    boxed.addEventListener("pointermove", function (event) {
      if (start) toFields(start, point(event));
    });
    boxed.addEventListener("pointerup", function (event) {
      if (!start) return;
      var values = toFields(start, point(event));
      start = null;
      setDrawing(false);
      A.announce("Box drawn: x " + values.x + ", y " + values.y + ", " + values.width + " by " + values.height + " pixels.");
      var label = root.querySelector("#add-label");
      (label.value.trim() ? root.querySelector("#add-tag-submit") : label).focus();
    });
    boxed.addEventListener("pointercancel", function () { start = null; });
    stopDrawing = function () {
      if (toggle.getAttribute("aria-pressed") !== "true") return false;
      start = null;
      setDrawing(false);
      toggle.focus();
      return true;
    };
    showDrawn(root);
  }

  // --- tagging status -----------------------------------------------------------------------------

  var STATUS_WORDS = { pending: "Pending", processing: "Processing", tagged: "Tagged", failed: "Failed" };

  // What the run found (the provenance's number) is not all the image's tags: accepted, relabelled
  // and manual ones were kept from before. Say both, so the numbers agree with the page.
  function finishedWords(data) {
    var tags = data.detections || [];
    var kept = tags.filter(function (d) { return d.source === "manual" || d.review !== "unreviewed"; }).length;
    var found = data.last_run ? data.last_run.detection_count : tags.length - kept;
    var words = "Tagging finished: the run found " + found + "; " + tags.length + " tag" + (tags.length === 1 ? "" : "s") + " in all";
    return words + (kept ? " (incl. " + kept + " accepted or manual)." : ".");
  }

  function watchStatus(root) {
    clearTimeout(pollTimer);
    var status = root.getAttribute("data-status");
    if (status !== "pending" && status !== "processing") return;
    pollTimer = setTimeout(function () {
      A.api("GET", root.getAttribute("data-api-url")).then(function (result) {
        if (!result.ok || !result.data) return watchStatus(root);
        var now = result.data.status;
        if (now === "tagged" || now === "failed") {
          refresh(false, now === "tagged" ? finishedWords(result.data) : "Tagging failed.");
        } else {
          var line = root.querySelector("#tagging-status");
          if (line && now !== status) {
            line.textContent = "Tagging: " + STATUS_WORDS[now];
            line.className = "status status-" + now;
            root.setAttribute("data-status", now);
          }
          watchStatus(root);
        }
      });
    }, 1500);
  }

  init();
})();
