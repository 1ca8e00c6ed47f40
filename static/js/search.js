// Library search: label autocomplete for the word being typed, and sorting on change.
// Suggestions come from /api/labels/?prefix=..., counted within the rest of the query when it
// parses, so they only offer labels that still have results.
(function () {
  "use strict";

  var input = document.getElementById("q");
  var list = document.getElementById("q-suggestions");
  if (!input || !list) return;
  var form = input.form;
  var url = input.getAttribute("data-labels-url");
  var active = -1;
  var timer = null;
  var lastRequest = 0;
  var waiting = false;  // typed, suggestions not yet shown
  var enterPending = false;  // Enter pressed while waiting
  var WORD_END = /(^|[\s(])(-?)([^\s()"<>=!@:\-][^\s()"<>=!@:]*|"[^"]*)$/;

  function currentWord() {
    var caret = input.selectionStart === null ? input.value.length : input.selectionStart;
    var before = input.value.slice(0, caret);
    var match = WORD_END.exec(before);
    if (!match) return null;
    var word = match[3];
    var start = caret - word.length;
    var prefix = word.charAt(0) === '"' ? word.slice(1) : word;
    if (!prefix || /^(and|or|not)$/i.test(prefix)) return null;
    return { start: start, end: caret, prefix: prefix };
  }

  function quoted(label) {
    return /^[^\s()"<>=!@:\-][^\s()"<>=!@:]*$/.test(label) && !/^(and|or|not)$/i.test(label)
      ? label
      : '"' + label.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
  }

  function close() {
    list.hidden = true;
    list.innerHTML = "";
    active = -1;
    input.setAttribute("aria-expanded", "false");
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    var options = list.querySelectorAll("[role=option]");
    if (!options.length) return;
    active = (index + options.length) % options.length;
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === active ? "true" : "false");
    });
    input.setAttribute("aria-activedescendant", options[active].id);
  }

  function accept(label) {
    var word = currentWord();
    if (!word) return close();
    var value = input.value;
    var insert = quoted(label) + " ";
    var rest = value.slice(word.end).replace(/^[^\s()]*/, "");  // the remainder of the word being replaced
    input.value = value.slice(0, word.start) + insert + rest.replace(/^\s+/, "");
    var caret = word.start + insert.length;
    input.setSelectionRange(caret, caret);
    close();
    input.focus();
  }

  function show(facets) {
    close();
    if (!facets.length) return;
    facets.forEach(function (facet, i) {
      var option = document.createElement("li");
      option.id = "q-suggestion-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      var name = document.createElement("span");
      name.textContent = facet.label;
      var count = document.createElement("span");
      count.className = "facet-count";
      count.textContent = facet.count;
      option.appendChild(name);
      option.appendChild(count);
      // mousedown, not click: it fires before the input loses focus.
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();
        accept(facet.label);
      });
      list.appendChild(option);
    });
    list.hidden = false;
    input.setAttribute("aria-expanded", "true");
  }

  function fetchFacets(params) {
    return fetch(url + "?" + params.toString(), { headers: { Accept: "application/json" }, credentials: "same-origin" });
  }

  function submit() {
    if (form) form.requestSubmit ? form.requestSubmit() : form.submit();
  }

  function suggest() {
    var word = currentWord();
    if (!word) {
      waiting = false;
      return close();
    }
    var request = ++lastRequest;
    // The rest of the query, without the word and a "-" in front of it.
    var others = (input.value.slice(0, word.start).replace(/-$/, "") + " " + input.value.slice(word.end)).trim();
    var params = new URLSearchParams({ prefix: word.prefix, limit: "8" });
    var withQuery = new URLSearchParams(params);
    if (others) withQuery.set("q", others);
    fetchFacets(withQuery)
      .then(function (response) {
        // The rest of the query may not parse yet (a dangling OR): suggest from the whole library.
        return response.ok || !others ? response : fetchFacets(params);
      })
      .then(function (response) { return response.ok ? response.json() : []; })
      .then(function (facets) {
        if (request !== lastRequest) return;
        waiting = false;
        show(facets);
        if (!enterPending) return;
        enterPending = false;
        if (!takeSuggestion()) submit();
      })
      .catch(function () {
        waiting = false;
        close();
        if (enterPending) { enterPending = false; submit(); }
      });
  }

  function optionLabels() {
    return Array.prototype.map.call(list.querySelectorAll("[role=option]"), function (option) {
      return option.firstChild.textContent;
    });
  }

  // Enter or Tab takes the highlighted suggestion, or else the first one (the docs promise it), so
  // "tri" Enter means "triangle", not a search for "tri". A word that already is one of the
  // suggestions is left alone, and Enter searches.
  function takeSuggestion() {
    var labels = optionLabels();
    var word = currentWord();
    if (!labels.length || !word) return false;
    if (active < 0 && labels.indexOf(word.prefix.toLowerCase()) >= 0) {
      close();
      return false;
    }
    accept(labels[active >= 0 ? active : 0]);
    return true;
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    waiting = true;
    enterPending = false;
    timer = setTimeout(suggest, 150);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && list.hidden && waiting && currentWord()) {
      // Typed faster than the suggestions came: decide once they are here.
      event.preventDefault();
      enterPending = true;
      clearTimeout(timer);
      suggest();
      return;
    }
    if (list.hidden) return;
    if (event.key === "ArrowDown") { event.preventDefault(); highlight(active + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); highlight(active - 1); }
    else if (event.key === "Escape") { event.preventDefault(); close(); }
    else if ((event.key === "Enter" || event.key === "Tab") && takeSuggestion()) {
      event.preventDefault();
    }
  });
  input.addEventListener("blur", function () { setTimeout(close, 100); });

  var sort = document.getElementById("sort");
  if (sort && form) {
    sort.addEventListener("change", submit);
  }
})();
