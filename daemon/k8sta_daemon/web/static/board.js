// Live departure board: one EventSource per page; each "track" event carries one Track's new
// <section> (rendered and escaped by the server), which replaces the old one in place. Without
// JavaScript the page is the same board, only not live.
(function () {
  "use strict";
  var tracks = document.getElementById("tracks");
  var live = document.getElementById("live");
  var stats = window.k8staBoard = { updates: 0, lastLagMs: null, lags: [], connected: false };
  if (!tracks || !window.EventSource) { return; }

  function say(state, text) {
    if (live) { live.dataset.state = state; live.textContent = text; }
  }

  function apply(message) {
    var old = document.getElementById(message.id);
    if (message.html === null) {
      if (old) { old.remove(); }
    } else {
      var holder = document.createElement("template");
      holder.innerHTML = message.html;
      var section = holder.content.firstElementChild;
      if (old) { old.replaceWith(section); } else { tracks.appendChild(section); }
      var empty = document.getElementById("no-tracks");
      if (empty) { empty.remove(); }
    }
    var lag = Date.now() - message.published;  // server publish -> DOM updated (same clock on one host)
    stats.updates += 1;
    stats.lastLagMs = lag;
    stats.lags.push(lag);
    if (stats.lags.length > 100) { stats.lags.shift(); }
    document.dispatchEvent(new CustomEvent("k8sta:track", { detail: { id: message.id, seq: message.seq, lagMs: lag } }));
  }

  var source = new EventSource(tracks.dataset.events);
  source.addEventListener("open", function () { stats.connected = true; say("live", "live"); });
  source.addEventListener("error", function () { stats.connected = false; say("reconnecting", "reconnecting…"); });
  source.addEventListener("track", function (event) { apply(JSON.parse(event.data)); });
})();
