// A shared image: ← and → (or a swipe on a phone) go to the previous and next image of the collection.
(function () {
  "use strict";
  function go(id) {
    var link = document.getElementById(id);
    if (link) window.location.href = link.href;
  }
  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || /INPUT|TEXTAREA|SELECT/.test(event.target.tagName)) return;
    if (event.key === "ArrowLeft") go("share-prev");
    if (event.key === "ArrowRight") go("share-next");
  });
  var startX = null;
  document.addEventListener("touchstart", function (event) { startX = event.touches[0].clientX; }, { passive: true });
  document.addEventListener("touchend", function (event) {
    if (startX === null) return;
    var moved = event.changedTouches[0].clientX - startX;
    startX = null;
    if (Math.abs(moved) > 60) go(moved > 0 ? "share-prev" : "share-next");
  });
})();
