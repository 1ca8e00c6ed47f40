// Loaded synchronously in <head> (not inline: the Content-Security-Policy allows scripts from files only),
// so styles meant for script-enabled pages apply before the first paint.
document.documentElement.classList.add("js");
