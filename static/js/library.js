// Library: selection for bulk actions (tick boxes, shift-click for a range, select all), a
// confirmation before deleting, more results loaded while scrolling, and live status of images
// still being tagged. Without JavaScript the toolbar posts to BulkActionView, which asks before
// deleting on a page of its own, and the Previous/Next links page through the results.
(function () {
  "use strict";

  var A = window.Assetsite;
  var form = document.getElementById("bulk-form");
  var grid = document.getElementById("grid");
  if (!A || !grid) return;

  // --- selection ----------------------------------------------------------------------------------

  var count = document.getElementById("bulk-count");
  var all = document.getElementById("select-all");
  // "All N matching": the form then carries the search, and the server acts on every match.
  var matching = document.getElementById("select-matching");
  var lastClicked = null;

  function boxes() { return Array.prototype.slice.call(grid.querySelectorAll("input.select")); }

  function matchingTotal() { return matching && matching.checked ? Number(matching.getAttribute("data-total")) : 0; }
  // A broad search is counted up to a limit (data-total-more): "1,000+".
  function countText(n) {
    return n.toLocaleString() + (matchingTotal() && matching.hasAttribute("data-total-more") ? "+" : "");
  }

  function selectedCount() {
    return matchingTotal() || boxes().filter(function (box) { return box.checked; }).length;
  }

  function update() {
    var list = boxes();
    if (matchingTotal()) list.forEach(function (box) { box.checked = true; });
    var ticked = list.filter(function (box) { return box.checked; });
    list.forEach(function (box) { box.closest(".card").classList.toggle("is-selected", box.checked); });
    var total = matchingTotal();
    form.classList.toggle("has-selection", ticked.length > 0 || total > 0);
    count.textContent = total
      ? "All " + countText(total) + " matching selected (" + ticked.length + " shown)"
      : ticked.length
        ? ticked.length + " selected"
        : "Tick images to act on several at once.";
    all.checked = ticked.length > 0 && ticked.length === list.length;
    all.indeterminate = ticked.length > 0 && ticked.length < list.length;
  }

  if (form) {
    all.closest(".select-all").hidden = false;
    grid.addEventListener("click", function (event) {
      var box = event.target.closest && event.target.closest("input.select");
      if (!box) return;
      var list = boxes();
      // Shift-click ticks (or unticks) everything between this box and the one clicked before.
      if (event.shiftKey && lastClicked && list.indexOf(lastClicked) >= 0) {
        var from = list.indexOf(lastClicked), to = list.indexOf(box);
        list.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (each) { each.checked = box.checked; });
      }
      lastClicked = box;
    });
    grid.addEventListener("change", function (event) {
      // Unticking one image ends "all matching": the selection is what is ticked again.
      if (matching && event.target.matches && event.target.matches("input.select") && !event.target.checked) {
        matching.checked = false;
      }
      update();
    });
    all.addEventListener("change", function () {
      boxes().forEach(function (box) { box.checked = all.checked; });
      if (matching && !all.checked) matching.checked = false;
      update();
    });
    if (matching) {
      matching.addEventListener("change", function () {
        if (!matching.checked) boxes().forEach(function (box) { box.checked = false; });
        update();
        A.announce(count.textContent);
      });
    }

    form.addEventListener("submit", function (event) {
      var action = event.submitter ? event.submitter.value : "";
      var ticked = selectedCount();
      var label = form.querySelector("#bulk-label");
      var problem = "";
      var collection = form.querySelector("#collection-name");
      if (!ticked) problem = "Select one or more images first.";
      else if ((action === "add_tag" || action === "remove_tag") && !label.value.trim()) {
        problem = "Type the tag to " + (action === "add_tag" ? "add" : "remove") + " first.";
        label.focus();
      } else if (action === "collect" && collection && !collection.value.trim()) {
        problem = "Type the name of a collection (a new name makes one).";
        collection.focus();
      }
      if (problem) {
        event.preventDefault();
        count.textContent = problem;
        A.announce(problem);
        return;
      }
      if (action === "delete") {
        event.preventDefault();
        confirmDelete(ticked);
      }
    });
    update();
  }

  function trashNote() {
    var days = form.getAttribute("data-trash-days") || "30";
    return "They stay in the trash for " + days + " days with their tags and collections; restore them from the Trash page until then.";
  }

  function confirmDelete(ticked) {
    var dialog = document.getElementById("delete-dialog");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "delete-dialog";
      dialog.setAttribute("aria-labelledby", "delete-dialog-title");
      dialog.innerHTML =
        '<h2 id="delete-dialog-title"></h2><p>' + trashNote() + '</p>' +
        '<form method="dialog" class="actions"><button value="delete" class="danger" id="delete-confirm"></button>' +
        '<button value="cancel" class="secondary" autofocus>Cancel</button></form>';
      document.body.appendChild(dialog);
      dialog.addEventListener("close", function () {
        if (dialog.returnValue !== "delete") return;
        [["action", "delete"], ["confirm", "1"]].forEach(function (pair) {
          var field = document.createElement("input");
          field.type = "hidden";
          field.name = pair[0];
          field.value = pair[1];
          form.appendChild(field);
        });
        form.submit();
      });
    }
    var words = countText(ticked) + " image" + (ticked === 1 ? "" : "s");
    dialog.querySelector("#delete-dialog-title").textContent = "Move " + words + " to the trash?";
    dialog.querySelector("#delete-confirm").textContent = "Move " + words + " to the trash";
    dialog.returnValue = "";
    dialog.showModal();
  }

  // --- more results while scrolling ---------------------------------------------------------------

  var loading = false;

  function nextLink() {
    var nav = document.querySelector("nav.pagination[data-infinite]");
    return nav ? nav.querySelector("a[rel=next]") : null;
  }

  var pending = null;  // the page being loaded (a promise), so the viewer and place.js can wait for it

  // Resolves once the next page's cards are in the grid (or loading failed).
  function loadMore() {
    var link = nextLink();
    if (loading) return pending;
    if (!link) return Promise.resolve();
    loading = true;
    var nav = link.closest("nav");
    nav.setAttribute("aria-busy", "true");
    pending = fetch(link.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : Promise.reject(response.status); })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var cards = page.querySelectorAll("#grid > li");
        cards.forEach(function (card) { grid.appendChild(document.importNode(card, true)); });
        grid.dispatchEvent(new CustomEvent("assetsite:more", { bubbles: true, detail: { url: link.href } }));
        var freshNav = page.querySelector("nav.pagination[data-infinite]");
        if (freshNav) {
          // Pages above this one are already on screen.
          var previous = freshNav.querySelector("a[rel=prev]");
          if (previous) previous.remove();
          nav.replaceWith(document.importNode(freshNav, true));
        } else {
          nav.remove();
        }
        A.announce(cards.length + " more image" + (cards.length === 1 ? "" : "s") + " loaded.");
        if (form) update();
        watchPending();
        loading = false;
        observe();
      })
      .catch(function () {
        nav.removeAttribute("aria-busy");
        loading = false;  // the link still works as a plain link
      });
    return pending;
  }

  // For the viewer (←/→ past the loaded cards) and place.js (Back restores the loaded pages).
  A.libraryMore = { available: function () { return !!nextLink(); }, load: loadMore };

  var observer = "IntersectionObserver" in window
    ? new IntersectionObserver(function (entries) {
      if (entries.some(function (entry) { return entry.isIntersecting; })) loadMore();
    }, { rootMargin: "600px 0px" })
    : null;

  function observe() {
    var link = nextLink();
    if (observer && link) {
      observer.disconnect();
      observer.observe(link.closest("nav"));
    }
  }
  observe();

  // --- status of images still being tagged -------------------------------------------------------

  var STATUS_WORDS = { pending: "Pending", processing: "Processing", tagged: "Tagged", failed: "Failed" };
  var pollTimer = null;

  // "12 waiting · about 40 s": the user's whole queue, not only the cards on this page.
  var queueLine = document.getElementById("queue-status");

  function refreshQueue() {
    if (!queueLine) return Promise.resolve();
    return A.api("GET", queueLine.getAttribute("data-api-url")).then(function (result) {
      if (!result.ok || !result.data) return;
      if (queueLine.textContent !== result.data.summary) queueLine.textContent = result.data.summary;
      queueLine.hidden = !result.data.summary;
    });
  }

  function watchPending() {
    if (pollTimer !== null) return;
    var waiting = grid.querySelectorAll('.card[data-status=pending], .card[data-status=processing]');
    if (!waiting.length && !(queueLine && !queueLine.hidden)) return;
    pollTimer = setTimeout(function () {
      pollTimer = null;
      var cards = Array.prototype.slice.call(grid.querySelectorAll('.card[data-status=pending], .card[data-status=processing]'), 0, 24);
      Promise.all([refreshQueue()].concat(cards.map(function (card) {
        return A.api("GET", card.getAttribute("data-api-url")).then(function (result) {
          if (!result.ok || !result.data) return;
          var status = result.data.status;
          card.setAttribute("data-status", status);
          var line = card.querySelector(".status");
          line.textContent = STATUS_WORDS[status] || status;
          line.className = "status status-" + status;
          var chips = card.querySelector(".chips");
          if (status === "tagged" && chips) {
            chips.textContent = "";
            result.data.tags.slice(0, 5).forEach(function (tag) { chips.appendChild(A.chip(tag.label, tag.count)); });
          }
        });
      }))).then(watchPending);
    }, 2500);
  }
  watchPending();
})();
