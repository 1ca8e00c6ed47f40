// Shared helpers for the page scripts (loaded first on every page): the API with the session's CSRF
// token, error messages in plain words, screen-reader announcements, and the colour of a label.
(function () {
  "use strict";

  function csrfToken() {
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    var match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // A message for people from an API answer ({"detail", "code"}) or from its absence.
  function problem(status, data) {
    if (status === 0) return "The connection failed. Check your network and try again.";
    if (status === 401 || status === 403) {
      if (data && /CSRF/i.test(data.detail || "")) return "This page is out of date. Reload it and try again.";
      return "You are logged out or your session expired. Log in again (in another tab), then retry.";
    }
    if (data && data.detail) return data.detail;
    if (status === 413) return "The file is too large for the server.";
    if (status === 429) return "Too many requests at once. Wait a moment and try again.";
    if (status >= 500) return "The server had a problem (" + status + "). Try again in a moment.";
    return "The server answered " + status + ".";
  }

  // fetch() against the API; resolves to {ok, status, data, message}, never rejects.
  function api(method, url, body) {
    var headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRFToken"] = csrfToken();
    var options = { method: method, headers: headers, credentials: "same-origin" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options)
      .then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        var parse = type.indexOf("json") >= 0 ? response.json().catch(function () { return null; }) : Promise.resolve(null);
        return parse.then(function (data) {
          return { ok: response.ok, status: response.status, data: data, message: response.ok ? "" : problem(response.status, data) };
        });
      })
      .catch(function () {
        return { ok: false, status: 0, data: null, message: problem(0, null) };
      });
  }

  var liveTimer = null;
  function announce(text) {
    var live = document.getElementById("live");
    if (!live) return;
    // Cleared first, so the same words said twice are announced twice.
    live.textContent = "";
    clearTimeout(liveTimer);
    liveTimer = setTimeout(function () { live.textContent = text; }, 50);
  }

  // --- label colours: the same computation as tagging/templatetags/tagging_ui.py ----------------
  function fnv1a(text) {
    var bytes = new TextEncoder().encode(text);
    var value = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) {
      value ^= bytes[i];
      value = Math.imul(value, 0x01000193) >>> 0;
    }
    return value >>> 0;
  }

  function hslHex(hue, saturation, lightness) {
    var chroma = (1 - Math.abs(2 * lightness - 1)) * saturation;
    var part = chroma * (1 - Math.abs(((hue / 60) % 2) - 1));
    var match = lightness - chroma / 2;
    var sector = Math.floor(hue / 60) % 6;
    var rgb = [[chroma, part, 0], [part, chroma, 0], [0, chroma, part], [0, part, chroma], [part, 0, chroma], [chroma, 0, part]][sector];
    return "#" + rgb.map(function (channel) {
      return ("0" + Math.round((channel + match) * 255).toString(16)).slice(-2);
    }).join("");
  }

  function luminance(color) {
    var channels = [1, 3, 5].map(function (i) {
      var value = parseInt(color.slice(i, i + 2), 16) / 255;
      return value <= 0.03928 ? value / 12.92 : Math.pow((value + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2];
  }

  function contrast(first, second) {
    var a = luminance(first), b = luminance(second);
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  }

  function labelColors(name) {
    var hue = fnv1a(name) % 360;
    var box = hslHex(hue, 0.85, 0.45);
    return {
      hue: hue,
      box: box,
      boxText: contrast(box, "#000000") >= contrast(box, "#ffffff") ? "#000000" : "#ffffff",
      chip: hslHex(hue, 0.8, 0.92),
      chipText: hslHex(hue, 0.75, 0.22),
    };
  }

  function labelStyle(element, name) {
    var colors = labelColors(name);
    element.style.setProperty("--label-box", colors.box);
    element.style.setProperty("--label-box-text", colors.boxText);
    element.style.setProperty("--label-chip", colors.chip);
    element.style.setProperty("--label-chip-text", colors.chipText);
  }

  function chip(name, count) {
    var element = document.createElement("span");
    element.className = "chip";
    element.textContent = name + (count > 1 ? " ×" + count : "");
    labelStyle(element, name);
    return element;
  }

  // Controls that only work with JavaScript are in the page but hidden until now.
  function revealJsOnly(root) {
    (root || document).querySelectorAll(".js-only[hidden]").forEach(function (element) {
      element.hidden = false;
    });
  }

  // Keyboard shortcuts must not fire while someone types.
  function isTyping(event) {
    var target = event.target;
    return event.ctrlKey || event.metaKey || event.altKey || (target && (target.isContentEditable ||
      /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName)));
  }

  document.documentElement.classList.add("js");
  revealJsOnly(document);

  window.Assetsite = {
    api: api,
    announce: announce,
    chip: chip,
    csrfToken: csrfToken,
    isTyping: isTyping,
    labelColors: labelColors,
    labelStyle: labelStyle,
    problem: problem,
    revealJsOnly: revealJsOnly,
  };
})();
