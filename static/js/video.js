// Asset page for a video: boxes drawn over the playing frame (interpolated between the sampled
// times), a per-label timeline strip (click a span to seek; the playhead follows), ?t= to open at a
// moment, and whole-track review (accept, reject, relabel) through the API. Without it the video
// still plays and the timeline links reload the page at that time.
(function () {
  "use strict";

  var A = window.Assetsite;
  var video = document.getElementById("asset-video");
  var stage = document.getElementById("video-stage");
  var layer = document.getElementById("video-boxes");
  var dataNode = document.getElementById("tracks-data");
  if (!A || !video || !stage || !layer || !dataNode) return;

  var data = JSON.parse(dataNode.textContent || "{}");
  var tracks = data.tracks || [];
  var half = (data.step || 0.5) / 2;
  var width = Number(stage.getAttribute("data-width")) || 1;
  var height = Number(stage.getAttribute("data-height")) || 1;
  var boxes = {};  // track id -> its element, made once

  // Where a track's box is at time t: linear between the two samples around t, held for half a
  // sampling step beyond its first and last sample; null when the object is not on screen.
  function boxAt(track, t) {
    var rows = track.boxes;
    if (!rows.length || t < track.start - half || t > track.end + half) return null;
    if (t <= rows[0][0]) return rows[0].slice(1, 5);
    for (var i = 1; i < rows.length; i += 1) {
      var before = rows[i - 1], after = rows[i];
      if (t <= after[0]) {
        if (after[0] - before[0] > 2 * (data.step || 0.5) + 1e-6) {  // a gap: nearest sample, no sliding across it
          return (t - before[0] < after[0] - t ? before : after).slice(1, 5);
        }
        var f = (t - before[0]) / Math.max(after[0] - before[0], 1e-6);
        return [0, 1, 2, 3].map(function (k) { return before[k + 1] + (after[k + 1] - before[k + 1]) * f; });
      }
    }
    return rows[rows.length - 1].slice(1, 5);
  }

  function element(track) {
    if (!boxes[track.id]) {
      var box = document.createElement("div");
      box.className = "box video-box";
      box.setAttribute("data-track-id", String(track.id));
      var caption = document.createElement("span");
      caption.className = "box-caption";
      caption.textContent = track.label + " " + track.confidence.toFixed(2);
      box.appendChild(caption);
      A.labelStyle(box, track.label);
      layer.appendChild(box);
      boxes[track.id] = box;
    }
    return boxes[track.id];
  }

  function draw() {
    var t = video.currentTime;
    tracks.forEach(function (track) {
      var at = boxAt(track, t);
      var box = element(track);
      box.hidden = at === null;
      if (at === null) return;
      box.style.left = (at[0] / width * 100) + "%";
      box.style.top = (at[1] / height * 100) + "%";
      box.style.width = (at[2] / width * 100) + "%";
      box.style.height = (at[3] / height * 100) + "%";
    });
    var duration = video.duration || 0;
    document.querySelectorAll(".timeline-playhead").forEach(function (head) {
      head.style.left = duration ? (t / duration * 100) + "%" : "0";
    });
  }

  var frame = null;
  function loop() {
    draw();
    frame = video.paused || video.ended ? null : window.requestAnimationFrame(loop);
  }
  video.addEventListener("play", function () { if (frame === null) frame = window.requestAnimationFrame(loop); });
  ["seeked", "timeupdate", "loadedmetadata", "pause"].forEach(function (name) { video.addEventListener(name, draw); });

  function seek(seconds) {
    video.currentTime = seconds;
    draw();
    stage.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  document.querySelectorAll("[data-seek]").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      seek(Number(link.getAttribute("data-seek")));
      video.focus();
    });
  });

  var start = stage.getAttribute("data-start");
  if (start !== null) {
    var jump = function () { seek(Number(start)); };
    if (video.readyState >= 1) jump(); else video.addEventListener("loadedmetadata", jump, { once: true });
  }

  // --- whole-track review ----------------------------------------------------------------------

  function say(text, isError) {
    var status = document.getElementById("track-status");
    if (status) {
      status.textContent = text;
      status.classList.toggle("is-error", !!isError);
    }
    A.announce(text);
  }

  function review(row, body) {
    var id = row.getAttribute("data-track-id");
    row.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
    A.api("PATCH", "/api/tracks/" + id + "/", body).then(function (result) {
      if (!result.ok) {
        row.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
        say(result.message, true);
        return;
      }
      say("Track saved: " + result.data.label + ", " + result.data.review + ".", false);
      // Reload at the same moment: the timeline, the boxes and the tags all follow the review.
      var here = location.pathname + "?t=" + video.currentTime.toFixed(3);
      window.setTimeout(function () {
        if (location.pathname + location.search === here) location.reload(); else location.assign(here + "#tracks");
      }, 300);
    });
  }

  document.querySelectorAll(".track-row").forEach(function (row) {
    row.querySelectorAll("[data-track-review]").forEach(function (button) {
      button.addEventListener("click", function () { review(row, { review: button.getAttribute("data-track-review") }); });
    });
    var relabel = row.querySelector("[data-track-relabel]");
    if (relabel) {
      relabel.addEventListener("click", function () {
        var label = window.prompt("New label for the whole track:");
        if (label && label.trim()) review(row, { label: label.trim() });
      });
    }
  });

  draw();
})();
