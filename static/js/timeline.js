// The timeline (sort by date taken): where a page loaded while scrolling continues the day (or month)
// the grid already shows, its repeated heading is dropped. "Jump to" is a plain form with a Go button (a
// select that jumped on change would jump at every arrow key).
(function () {
  "use strict";

  var grid = document.getElementById("grid");
  if (!grid || !grid.classList.contains("timeline")) return;

  function dropRepeats() {
    var seen = {};
    grid.querySelectorAll(".date-heading").forEach(function (heading) {
      var key = heading.getAttribute("data-date-key");
      if (seen[key]) heading.remove();
      else seen[key] = true;
    });
  }
  grid.addEventListener("assetsite:more", dropRepeats);
})();
