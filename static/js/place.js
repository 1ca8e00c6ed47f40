// Back to the library keeps its place: the pages loaded while scrolling and the scroll position are kept
// in sessionStorage per search (address without the viewer's ?view=), and when the browser comes back to
// the page without its back/forward cache (or reloads it), the same pages are loaded again through the
// keyset links (library.js) before scrolling to where the reader was. A fresh visit starts at the top.
(function () {
  "use strict";

  var A = window.Assetsite;
  var grid = document.getElementById("grid");
  if (!A || !grid || !A.libraryMore || !window.sessionStorage) return;

  // The browser's own restoring would scroll before the pages are back; this does it after.
  if ("scrollRestoration" in history) history.scrollRestoration = "manual";

  function key() {
    var url = new URL(window.location.href);
    url.searchParams.delete("view");
    return "assetsite:place:" + url.pathname + url.search;
  }
  function cardCount() { return grid.querySelectorAll(".card").length; }

  var restoring = false;
  function save() {
    if (restoring) return;
    try {
      sessionStorage.setItem(key(), JSON.stringify({ cards: cardCount(), scrollY: window.scrollY }));
    } catch (error) { /* storage full or off: Back then starts at the top, as without this script */ }
  }
  var timer = null;
  window.addEventListener("scroll", function () {
    clearTimeout(timer);
    timer = setTimeout(save, 150);
  }, { passive: true });
  window.addEventListener("pagehide", save);
  grid.addEventListener("assetsite:more", function () { setTimeout(save, 0); });

  function restore(saved) {
    restoring = true;
    grid.setAttribute("aria-busy", "true");
    function done() {
      restoring = false;
      grid.removeAttribute("aria-busy");
      window.scrollTo(0, saved.scrollY);
      document.documentElement.setAttribute("data-place-restored", String(cardCount()));
      save();
    }
    (function more() {
      var before = cardCount();
      if (before >= saved.cards || !A.libraryMore.available()) { done(); return; }
      A.libraryMore.load().then(function () {
        if (cardCount() > before) more(); else done();
      });
    })();
  }

  var entry = window.performance && performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
  var type = entry ? entry.type : "navigate";
  var saved = null;
  try { saved = JSON.parse(sessionStorage.getItem(key()) || "null"); } catch (error) { saved = null; }
  if ((type === "back_forward" || type === "reload") && saved && typeof saved.cards === "number") restore(saved);
  else save();
})();
