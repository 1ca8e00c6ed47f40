// Review queue: keyboard shortcuts (j/k or arrows to move, a accept, r reject, l relabel, o open,
// ? help) and review through the API, so a reviewed detection leaves the list without a reload.
// Without JavaScript every button posts to DetectionReviewView and comes back here.
(function () {
  "use strict";

  var A = window.Assetsite;
  var queue = document.getElementById("queue");
  if (!A || !queue) return;

  var counter = document.getElementById("queue-count");
  var help = document.getElementById("shortcuts");
  var remaining = queue.children.length;
  var total = Number((/^(\d+)/.exec(counter.textContent) || [0, remaining])[1]);
  var current = null;
  var countAsked = 0;

  function items() { return Array.prototype.slice.call(queue.querySelectorAll(".queue-item")); }

  function select(item, focus) {
    if (current) current.classList.remove("is-current");
    current = item || null;
    if (!current) return;
    current.classList.add("is-current");
    if (focus !== false) current.focus();
  }

  function move(step) {
    var list = items();
    if (!list.length) return;
    var index = current ? list.indexOf(current) : -1;
    select(list[Math.min(Math.max(index + step, 0), list.length - 1)]);
  }

  function ensureCurrent() {
    if (!current || !current.isConnected) select(items()[0]);
    return current;
  }

  function say(count) {
    counter.textContent = count > 0
      ? count + " detection" + (count === 1 ? "" : "s") + " to review, least certain first."
      : "Nothing to review.";
  }

  function done(item, message) {
    var list = items();
    var next = list[list.indexOf(item) + 1] || list[list.indexOf(item) - 1];
    item.remove();
    if (next) select(next);
    // The count is the server's (another tab, or a re-tag, may have changed it); our own tally is
    // only the fallback when that answer does not come.
    var asked = ++countAsked;
    A.api("GET", counter.getAttribute("data-count-url")).then(function (result) {
      if (asked !== countAsked) return next ? null : location.reload();  // a later review's answer speaks
      var fresh = result.ok && result.data && typeof result.data.count === "number";
      total = fresh ? result.data.count : total - 1;
      say(total);
      A.announce(message + (total > 0 ? " " + total + " left." : " All caught up."));
      // This batch is done: the next one (or "all caught up") comes from the server.
      if (!next) location.reload();
    });
  }

  function act(item, action) {
    var form = item.querySelector(action === "relabel" ? "form.relabel" : "form.review-form:not(.relabel)");
    var name = item.querySelector(".chip").textContent;
    var body, words;
    if (action === "relabel") {
      var label = form.querySelector("input[name=label]").value.trim();
      if (!label) {
        A.announce("Type the new label first.");
        form.querySelector("input[name=label]").focus();
        return;
      }
      body = { label: label };
      words = "“" + name + "” is now “" + label.toLowerCase() + "”.";
    } else {
      body = { review: action === "accept" ? "accepted" : "rejected" };
      words = (action === "accept" ? "Accepted" : "Rejected") + " “" + name + "”.";
    }
    // A key held down or pressed twice must not send the same review again while one is on its way.
    if (item.getAttribute("aria-busy") === "true") return;
    item.classList.add("is-done");
    item.setAttribute("aria-busy", "true");
    A.api("PATCH", form.getAttribute("data-api-url"), body).then(function (result) {
      if (result.ok) return done(item, words);
      item.classList.remove("is-done");
      item.removeAttribute("aria-busy");
      A.announce(result.message);
      var error = item.querySelector(".error") || document.createElement("p");
      error.className = "error";
      error.setAttribute("role", "alert");
      error.textContent = result.message;
      item.querySelector(".queue-body").appendChild(error);
    });
  }

  queue.addEventListener("submit", function (event) {
    event.preventDefault();
    var form = event.target;
    var action = form.classList.contains("relabel") ? "relabel" : (event.submitter && event.submitter.value);
    var item = form.closest(".queue-item");
    select(item, false);
    act(item, action);
  });
  queue.addEventListener("focusin", function (event) {
    var item = event.target.closest(".queue-item");
    if (item && item !== current) select(item, false);
  });
  queue.addEventListener("keydown", function (event) {
    // Escape in the relabel field goes back to the item, where the shortcuts work.
    if (event.key === "Escape" && event.target.name === "label") {
      event.preventDefault();
      event.target.value = "";
      select(event.target.closest(".queue-item"));
    }
  });

  // Back from an image (o) may show this page from the browser's memory as it was: the reviews made
  // since, elsewhere or here, are only in a fresh copy.
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) location.reload();
  });

  document.addEventListener("keydown", function (event) {
    if (event.repeat && (event.key === "a" || event.key === "r")) return;  // a held key is one review
    if (A.isTyping(event)) return;
    var inQueue = queue.contains(document.activeElement);
    switch (event.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      // Arrows scroll the page as usual unless the focus is in the list.
      case "ArrowDown": if (!inQueue) return; move(1); break;
      case "ArrowUp": if (!inQueue) return; move(-1); break;
      case "a": if (ensureCurrent()) act(current, "accept"); break;
      case "r": if (ensureCurrent()) act(current, "reject"); break;
      case "l": if (ensureCurrent()) current.querySelector("input[name=label]").focus(); break;
      case "o": if (ensureCurrent()) location.href = current.querySelector(".open-link").href; break;
      case "?": help.open = !help.open; break;
      default: return;
    }
    event.preventDefault();
  });
})();
