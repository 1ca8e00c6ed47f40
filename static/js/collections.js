// Collection page: copy a new share link with one press (the field stays selectable without a script).
(function () {
  "use strict";
  document.querySelectorAll("button.copy-link").forEach(function (button) {
    var field = document.querySelector(button.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = "Copied";
        if (window.Assetsite) window.Assetsite.announce("The link is copied.");
      }, function () { field.select(); });
    });
  });
})();
