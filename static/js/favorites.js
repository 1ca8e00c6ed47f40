// Hearts: any button.heart-toggle with data-api-url (cards, the asset page, the viewer) turns the asset's
// favourite on or off through the API, and every heart of the same asset on the page follows. Without
// JavaScript the heart is a plain form (library/_heart.html). Other scripts can listen for
// "assetsite:favorite" on document ({detail: {url, favorite}}).
(function () {
  "use strict";

  var busy = {};

  function hearts(url) {
    return Array.prototype.filter.call(document.querySelectorAll("button.heart-toggle"), function (button) {
      return button.getAttribute("data-api-url") === url;
    });
  }

  function show(url, favorite) {
    hearts(url).forEach(function (button) {
      button.setAttribute("aria-pressed", favorite ? "true" : "false");
      button.classList.toggle("is-on", favorite);
      button.title = favorite ? "Remove from favourites" : "Add to favourites";
      var form = button.closest("form.heart-form");
      var field = form && form.querySelector("input[name=favorite]");
      if (field) field.value = favorite ? "0" : "1";
    });
  }

  function toggle(button) {
    var A = window.Assetsite;
    var url = button.getAttribute("data-api-url");
    if (!A || !url || busy[url]) return;
    var favorite = button.getAttribute("aria-pressed") !== "true";
    busy[url] = true;
    show(url, favorite);  // at once; put back if the server says no
    A.api("PATCH", url, { favorite: favorite }).then(function (result) {
      busy[url] = false;
      if (!result.ok) {
        show(url, !favorite);
        A.announce(result.message);
        return;
      }
      show(url, result.data.favorite);
      A.announce(result.data.favorite ? "Added to favourites." : "Removed from favourites.");
      document.dispatchEvent(new CustomEvent("assetsite:favorite", { detail: { url: url, favorite: result.data.favorite } }));
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("heart-form")) return;
    event.preventDefault();
    toggle(form.querySelector("button.heart-toggle"));
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.heart-toggle");
    if (!button || button.closest("form.heart-form")) return;  // forms go through "submit" above
    event.preventDefault();
    toggle(button);
  });
})();
