// Loaded synchronously in <head> (not inline: the Content-Security-Policy allows scripts from files only),
// so styles meant for script-enabled pages, and the theme chosen with the toggle (static/js/theme.js),
// apply before the first paint: no light flash on a dark page.
document.documentElement.classList.add("js");
(function () {
  try {
    var theme = window.localStorage.getItem("assetsite-theme");
    if (theme === "dark" || theme === "light") document.documentElement.setAttribute("data-theme", theme);
  } catch (error) { /* storage off: the system's preference applies */ }
})();
