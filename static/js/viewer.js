// The viewer: a picture of the library's results (or a collection's) full-window over the grid. ←/→ go through the results
// (past the loaded cards: library.js loads the next page through the keyset links), +/−/wheel/double-click
// zoom up to the original's own pixels (1), drag pans, b shows or hides the boxes, f the heart, Esc goes back
// to the same place in the grid. Swipe left/right on a phone. The address says ?view=<id>, so the open
// picture can be shared with (or reloaded by) a signed-in user; without JavaScript, cards link to the
// picture's own page as before.
(function () {
  "use strict";

  var A = window.Assetsite;
  var grid = document.getElementById("grid");
  var start = document.getElementById("viewer-start");
  if (!A || (!grid && !start)) return;

  var MAX_SCALE = 4;       // at most 4 screen pixels per original pixel
  var SWIPE_PX = 50;       // a finger moving this far sideways turns the page
  var BROWSER_FORMATS = /^image\/(jpeg|png|webp|gif|avif)$/;

  var root = document.createElement("div");
  root.className = "lightbox";
  root.id = "lightbox";
  root.hidden = true;
  root.tabIndex = -1;
  root.setAttribute("role", "dialog");
  root.setAttribute("aria-modal", "true");
  root.setAttribute("aria-labelledby", "lightbox-title");
  root.setAttribute("aria-describedby", "lightbox-keys");
  root.innerHTML =
    '<div class="lightbox-bar">' +
    '<h2 id="lightbox-title" class="lightbox-title"></h2>' +
    '<span class="lightbox-position" id="lightbox-position"></span>' +
    '<span class="lightbox-tools">' +
    '<button type="button" class="heart-toggle lightbox-heart" aria-pressed="false" title="Add to favourites (f)"><span aria-hidden="true">♥</span><span class="visually-hidden">Favourite</span></button>' +
    '<button type="button" class="lightbox-button" data-act="boxes" aria-pressed="true" title="Boxes on or off (b)">Boxes</button>' +
    '<button type="button" class="lightbox-button" data-act="zoom-out" title="Zoom out (−)"><span aria-hidden="true">−</span><span class="visually-hidden">Zoom out</span></button>' +
    '<output class="lightbox-zoom" id="lightbox-zoom" aria-live="polite"></output>' +
    '<button type="button" class="lightbox-button" data-act="zoom-in" title="Zoom in (+)"><span aria-hidden="true">+</span><span class="visually-hidden">Zoom in</span></button>' +
    '<button type="button" class="lightbox-button" data-act="actual" title="The original\'s pixels (1); fit (0)">1:1</button>' +
    '<a class="lightbox-button lightbox-details" id="lightbox-details" href="#">Details</a>' +
    '<button type="button" class="lightbox-button" data-act="close" title="Back to the pictures (Esc)"><span aria-hidden="true">✕</span><span class="visually-hidden">Close</span></button>' +
    '</span></div>' +
    '<div class="lightbox-stage" id="lightbox-stage">' +
    '<div class="lightbox-frame" id="lightbox-frame"><img id="lightbox-img" alt="" draggable="false"><div class="lightbox-boxes" id="lightbox-boxes"></div></div>' +
    '<button type="button" class="lightbox-nav lightbox-prev" data-act="prev" title="Previous (←)"><span aria-hidden="true">‹</span><span class="visually-hidden">Previous picture</span></button>' +
    '<button type="button" class="lightbox-nav lightbox-next" data-act="next" title="Next (→)"><span aria-hidden="true">›</span><span class="visually-hidden">Next picture</span></button>' +
    '</div>' +
    '<p class="lightbox-status" id="lightbox-status" role="status"></p>' +
    '<p class="visually-hidden" id="lightbox-keys">Left and right arrows: previous and next picture. Plus and minus: zoom; 1: the original\'s pixels; 0: fit. B: boxes. F: favourite. Escape: back to the pictures.</p>';
  document.body.appendChild(root);

  function el(id) { return document.getElementById(id); }
  var stage = el("lightbox-stage"), frame = el("lightbox-frame"), img = el("lightbox-img"), boxLayer = el("lightbox-boxes");
  var heart = root.querySelector(".lightbox-heart"), boxesButton = root.querySelector('[data-act="boxes"]');

  var current = null;     // the asset shown (API data)
  var currentId = null;
  var pushed = false;     // whether opening added a history entry (closing then goes back to it)
  var returnFocus = null;
  var view = { scale: 1, fit: 1, x: 0, y: 0 };
  var loadToken = 0;
  var showBoxes = true;

  function cards() { return grid ? Array.prototype.slice.call(grid.querySelectorAll(".card[data-asset-id]")) : []; }
  function cardOf(id) { return grid ? grid.querySelector('.card[data-asset-id="' + id + '"]') : null; }
  function status(text) { el("lightbox-status").textContent = text; }

  // --- geometry: the frame is the picture at view.scale, moved by (x, y) inside the stage ----------

  function stageSize() { return { w: stage.clientWidth, h: stage.clientHeight }; }

  function clampAndDraw() {
    if (!current) return;
    var size = stageSize();
    var w = current.width * view.scale, h = current.height * view.scale;
    // Smaller than the stage: centred. Larger: no empty margin can be dragged into view.
    view.x = w <= size.w ? (size.w - w) / 2 : Math.min(0, Math.max(size.w - w, view.x));
    view.y = h <= size.h ? (size.h - h) / 2 : Math.min(0, Math.max(size.h - h, view.y));
    frame.style.width = w + "px";
    frame.style.height = h + "px";
    frame.style.transform = "translate(" + view.x + "px, " + view.y + "px)";
    var percent = Math.round(view.scale * 100);
    el("lightbox-zoom").textContent = Math.abs(view.scale - view.fit) < 1e-6 ? "Fit (" + percent + "%)" : percent + "%";
    root.classList.toggle("is-zoomed", view.scale > view.fit + 1e-6);
    root.setAttribute("data-scale", String(view.scale));
    // More pixels than the large thumbnail has: the original (or a full-size rendition) takes over.
    if (w > (img.naturalWidth || 0) * 1.05 && img.getAttribute("data-full") !== "1") loadFull();
  }

  function fitScale() {
    var size = stageSize();
    return Math.min(size.w / current.width, size.h / current.height, 1);
  }

  function zoomTo(scale, px, py) {
    if (!current) return;
    var size = stageSize();
    if (px === undefined) { px = size.w / 2; py = size.h / 2; }
    scale = Math.max(view.fit, Math.min(Math.max(MAX_SCALE, view.fit), scale));
    // Keep the picture's point under (px, py) where it is.
    view.x = px - (px - view.x) * (scale / view.scale);
    view.y = py - (py - view.y) * (scale / view.scale);
    view.scale = scale;
    clampAndDraw();
  }

  function fit() {
    view.fit = fitScale();
    view.scale = view.fit;
    clampAndDraw();
  }

  function loadFull() {
    if (!current) return;
    var token = loadToken;
    // Formats a browser cannot show (TIFF, HEIC): a full-size WebP rendition (at most 4096 on the long side).
    var width = Math.round(current.width * Math.min(1, 4096 / Math.max(current.width, current.height)));
    var url = BROWSER_FORMATS.test(current.mime_type || "")
      ? current.urls.original
      : current.urls.rendition + "?format=webp&width=" + width;
    if (/^video\//.test(current.mime_type || "")) return;  // a video's frame: the thumbnail is what there is
    img.setAttribute("data-full", "1");
    var full = new Image();
    full.onload = function () {
      if (token !== loadToken) return;
      img.src = full.src;
      root.setAttribute("data-full-loaded", "1");
    };
    full.src = url;
  }

  // --- showing one asset ------------------------------------------------------------------------

  function drawBoxes() {
    boxLayer.textContent = "";
    (current.detections || []).forEach(function (detection) {
      if (!detection.box) return;
      var box = document.createElement("div");
      box.className = "box lightbox-box";
      box.style.left = (100 * detection.box.x / current.width) + "%";
      box.style.top = (100 * detection.box.y / current.height) + "%";
      box.style.width = (100 * detection.box.width / current.width) + "%";
      box.style.height = (100 * detection.box.height / current.height) + "%";
      if (detection.box.y < current.height * 0.06) box.classList.add("at-top");
      A.labelStyle(box, detection.label);
      var caption = document.createElement("span");
      caption.textContent = detection.label + " " + Number(detection.confidence).toFixed(2);
      box.appendChild(caption);
      boxLayer.appendChild(box);
    });
    boxLayer.hidden = !showBoxes;
  }

  function position() {
    var list = cards();
    var index = list.indexOf(cardOf(currentId));
    var total = grid ? Number(grid.getAttribute("data-total")) || list.length : 0;
    var more = grid && grid.hasAttribute("data-total-more") ? "+" : "";  // counted up to a limit
    // A page reached by its link starts at an unknown offset (keyset cursors): count within the page.
    var text = document.querySelector("a[rel=prev]")
      ? (index + 1) + " of " + list.length + " on this page"
      : (index + 1) + " of " + total.toLocaleString() + more;
    el("lightbox-position").textContent = index >= 0 ? text : "";
    return index;
  }

  function show(id, apiUrl) {
    var token = ++loadToken;
    currentId = id;
    root.setAttribute("data-asset-id", id);
    root.removeAttribute("data-full-loaded");
    root.setAttribute("aria-busy", "true");
    if (root.hidden) {
      returnFocus = document.activeElement;
      root.hidden = false;
      document.documentElement.classList.add("lightbox-open");
    }
    position();
    var card = cardOf(id);
    var thumb = card && card.querySelector("img");
    if (thumb) { img.removeAttribute("data-full"); img.src = thumb.src; }  // something at once
    status("");
    A.api("GET", apiUrl || (card && card.getAttribute("data-api-url"))).then(function (result) {
      if (token !== loadToken) return;
      root.removeAttribute("aria-busy");
      if (!result.ok) { status(result.status === 404 ? "This picture is gone (deleted or not yours)." : result.message); return; }
      current = result.data;
      var name = current.title || current.filename;
      el("lightbox-title").textContent = name;
      img.alt = name;
      img.removeAttribute("data-full");
      img.src = current.urls.thumbnail_large;
      el("lightbox-details").href = current.urls.page;
      heart.setAttribute("data-api-url", current.urls.api.replace(/^https?:\/\/[^/]+/, ""));
      heart.setAttribute("aria-pressed", current.favorite ? "true" : "false");
      heart.classList.toggle("is-on", !!current.favorite);
      heart.querySelector(".visually-hidden").textContent = "Favourite " + name;
      drawBoxes();
      view.x = 0; view.y = 0;
      fit();
      root.focus();
      A.announce(name + (position() >= 0 ? ", " + el("lightbox-position").textContent : ""));
      preloadNeighbours();
    });
  }

  // The next and previous pictures' large thumbnails, so ←/→ show them at once.
  function preloadNeighbours() {
    var list = cards();
    var index = list.indexOf(cardOf(currentId));
    if (index < 0) return;
    [list[index + 1], list[index - 1]].forEach(function (card) {
      var api = card && card.getAttribute("data-api-url");
      if (api) new Image().src = api + "thumbnail/large/";
    });
  }

  function setAddress(id, push) {
    var url = new URL(window.location.href);
    if (id) url.searchParams.set("view", id); else url.searchParams.delete("view");
    var state = { viewer: id || null, place: history.state && history.state.place };
    if (push) history.pushState(state, "", url); else history.replaceState(state, "", url);
  }

  function open(id, apiUrl) {
    pushed = true;
    setAddress(id, true);
    show(id, apiUrl);
  }

  function hide() {
    if (root.hidden) return;
    root.hidden = true;
    loadToken++;
    document.documentElement.classList.remove("lightbox-open");
    var card = cardOf(currentId);
    current = null;
    currentId = null;
    // Back where the grid was; the card just looked at is in view and has the focus.
    if (card) {
      var rect = card.getBoundingClientRect();
      if (rect.bottom < 0 || rect.top > window.innerHeight) card.scrollIntoView({ block: "center" });
      var link = card.querySelector(".card-link");
      if (link) link.focus({ preventScroll: true });
    } else if (returnFocus && returnFocus.focus) {
      returnFocus.focus({ preventScroll: true });
    }
    document.dispatchEvent(new CustomEvent("assetsite:viewer-closed"));
  }

  function close() {
    if (pushed) { pushed = false; history.back(); }  // popstate hides it
    else { setAddress(null, false); hide(); }
  }

  function step(delta) {
    var list = cards();
    var index = list.indexOf(cardOf(currentId));
    var target = index + delta;
    if (index < 0) target = delta > 0 ? 0 : -1;
    if (target < 0) { status("This is the first picture" + (document.querySelector("a[rel=prev]") ? " on this page." : ".")); return; }
    if (target < list.length) { go(list[target]); return; }
    if (A.libraryMore && A.libraryMore.available()) {
      status("Loading more…");
      A.libraryMore.load().then(function () {
        var fresh = cards();
        if (fresh.length > target) { status(""); go(fresh[target]); } else status("This is the last picture.");
      });
      return;
    }
    // Pages without endless loading (a collection's) say where the next ones are.
    status("This is the last picture" + (document.querySelector("a[rel=next]") ? " on this page." : "."));
  }

  function go(card) {
    var id = card.getAttribute("data-asset-id");
    setAddress(id, false);
    show(id, card.getAttribute("data-api-url"));
  }

  // --- opening ----------------------------------------------------------------------------------

  if (grid) {
    grid.addEventListener("click", function (event) {
      var link = event.target.closest && event.target.closest("a.card-link");
      if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      var card = link.closest(".card");
      event.preventDefault();
      open(card.getAttribute("data-asset-id"), card.getAttribute("data-api-url"));
    });
  }

  window.addEventListener("popstate", function () {
    var id = new URL(window.location.href).searchParams.get("view");
    if (id && id !== currentId) { pushed = false; show(id, null); }
    else if (!id) { pushed = false; hide(); }
  });

  // --- controls ---------------------------------------------------------------------------------

  function toggleBoxes() {
    showBoxes = !showBoxes;
    boxLayer.hidden = !showBoxes;
    boxesButton.setAttribute("aria-pressed", showBoxes ? "true" : "false");
    A.announce(showBoxes ? "Boxes shown." : "Boxes hidden.");
  }

  var actions = {
    prev: function () { step(-1); },
    next: function () { step(1); },
    close: close,
    boxes: toggleBoxes,
    "zoom-in": function () { zoomTo(view.scale * 1.5); },
    "zoom-out": function () { zoomTo(view.scale / 1.5); },
    actual: function () { zoomTo(Math.abs(view.scale - 1) < 1e-6 ? view.fit : 1); },
  };

  root.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-act]");
    if (button && actions[button.getAttribute("data-act")]) actions[button.getAttribute("data-act")]();
  });

  document.addEventListener("keydown", function (event) {
    if (root.hidden) return;
    if (event.key === "Escape") { event.preventDefault(); event.stopPropagation(); close(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var key = event.key;
    var handled = true;
    if (key === "ArrowRight" || key === "PageDown") step(1);
    else if (key === "ArrowLeft" || key === "PageUp") step(-1);
    else if (key === "+" || key === "=") actions["zoom-in"]();
    else if (key === "-" || key === "_") actions["zoom-out"]();
    else if (key === "0") fit();
    else if (key === "1") zoomTo(1);
    else if (key === "b" || key === "B") toggleBoxes();
    else if ((key === "f" || key === "F") && heart.getAttribute("data-api-url")) heart.click();
    else if (key === "ArrowUp" || key === "ArrowDown") {
      view.y += key === "ArrowUp" ? 80 : -80;
      clampAndDraw();
    } else if (key === "Tab") {
      // Keep the focus inside the dialog.
      var focusable = Array.prototype.filter.call(root.querySelectorAll("button, a[href]"), function (item) { return item.offsetParent !== null; });
      var first = focusable[0], last = focusable[focusable.length - 1];
      if (event.shiftKey && (document.activeElement === first || document.activeElement === root)) last.focus();
      else if (!event.shiftKey && document.activeElement === last) first.focus();
      else handled = false;
    } else handled = false;
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  }, true);

  stage.addEventListener("wheel", function (event) {
    if (!current) return;
    event.preventDefault();
    var rect = stage.getBoundingClientRect();
    zoomTo(view.scale * (event.deltaY < 0 ? 1.25 : 0.8), event.clientX - rect.left, event.clientY - rect.top);
  }, { passive: false });

  stage.addEventListener("dblclick", function (event) {
    if (!current || event.target.closest("button")) return;
    var rect = stage.getBoundingClientRect();
    zoomTo(view.scale > view.fit + 1e-6 ? view.fit : 1, event.clientX - rect.left, event.clientY - rect.top);
  });

  // Drag to pan when zoomed in; a sideways swipe turns the page when not.
  var drag = null;
  stage.addEventListener("pointerdown", function (event) {
    if (!current || event.target.closest("button")) return;
    drag = { id: event.pointerId, x: event.clientX, y: event.clientY, startX: event.clientX, startY: event.clientY, type: event.pointerType };
    stage.setPointerCapture(event.pointerId);
  });
  stage.addEventListener("pointermove", function (event) {
    if (!drag || event.pointerId !== drag.id || view.scale <= view.fit + 1e-6) return;
    view.x += event.clientX - drag.x;
    view.y += event.clientY - drag.y;
    drag.x = event.clientX;
    drag.y = event.clientY;
    clampAndDraw();
  });
  function endDrag(event) {
    if (!drag || event.pointerId !== drag.id) return;
    var dx = event.clientX - drag.startX, dy = event.clientY - drag.startY;
    var zoomed = view.scale > view.fit + 1e-6;
    drag = null;
    if (event.type === "pointerup" && !zoomed && Math.abs(dx) > SWIPE_PX && Math.abs(dx) > 1.5 * Math.abs(dy)) step(dx < 0 ? 1 : -1);
  }
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  window.addEventListener("resize", function () {
    if (!current) return;
    var wasFit = Math.abs(view.scale - view.fit) < 1e-6;
    view.fit = fitScale();
    if (wasFit) view.scale = view.fit;
    clampAndDraw();
  });

  // The same heart on a card follows the viewer's (favorites.js), and the other way round.
  document.addEventListener("assetsite:favorite", function (event) {
    if (current && heart.getAttribute("data-api-url") === event.detail.url) current.favorite = event.detail.favorite;
  });

  // Opened by address (?view=<id>): a shared link, a reload, or Back from the picture's page.
  if (start) {
    start.hidden = true;
    pushed = false;
    show(start.getAttribute("data-asset-id"), start.getAttribute("data-api-url"));
  }
})();
