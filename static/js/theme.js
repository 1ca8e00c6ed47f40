// The light/dark toggle in the top bar. Without a choice the page follows the system (prefers-color-scheme);
// pressing the toggle flips the theme shown and remembers it in localStorage, unless it now matches the
// system again, in which case the page goes back to following it. early.js applies it before paint.
(function () {
  "use strict";

  var KEY = "assetsite-theme";
  var button = document.getElementById("theme-toggle");
  var root = document.documentElement;
  var system = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
  if (!button) return;

  function systemTheme() { return system && system.matches ? "dark" : "light"; }
  function shown() { return root.getAttribute("data-theme") || systemTheme(); }

  function render() {
    var dark = shown() === "dark";
    button.setAttribute("aria-pressed", dark ? "true" : "false");
    button.title = (dark ? "Dark theme on" : "Dark theme off") +
      (root.hasAttribute("data-theme") ? " (your choice)" : " (following your system)");
  }

  button.addEventListener("click", function () {
    var next = shown() === "dark" ? "light" : "dark";
    try {
      if (next === systemTheme()) window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, next);
    } catch (error) { /* not kept, but still switched for this page */ }
    if (next === systemTheme()) root.removeAttribute("data-theme");
    else root.setAttribute("data-theme", next);
    render();
    if (window.Assetsite) window.Assetsite.announce(next === "dark" ? "Dark theme." : "Light theme.");
  });
  if (system && system.addEventListener) system.addEventListener("change", render);
  button.hidden = false;
  render();
})();
