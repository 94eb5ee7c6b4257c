// Draws every chart of the page with plotly.js and keeps the page live: when the server
// says the store changed, the page's <main> is fetched again and swapped in. Data only
// ever reaches the page as escaped HTML from the server or as JSON read with textContent.
"use strict";
(function () {
  var config = {displaylogo: false, responsive: true};

  function drawCharts(root) {
    root.querySelectorAll("[data-figure]").forEach(function (el) {
      var figure = JSON.parse(document.getElementById(el.dataset.figure).textContent);
      Plotly.react(el, figure.data, figure.layout, config);
    });
    document.body.dataset.drawn = String(Number(document.body.dataset.drawn || 0) + 1);
  }

  // For `scrape plot`: the first chart as a PNG or SVG data URL.
  window.chartImage = function (format, width, height) {
    var el = document.querySelector("[data-figure]");
    return Plotly.toImage(el, {format: format, width: width, height: height});
  };

  function refresh(version) {
    var current = document.getElementById("main");
    if (!current || current.dataset.version === version) return;
    fetch(window.location.href, {cache: "no-store"})
      .then(function (response) { return response.text(); })
      .then(function (text) {
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("main");
        var now = document.getElementById("main");
        if (!fresh || !now) return;
        now.replaceWith(document.adoptNode(fresh));
        drawCharts(fresh);
        var status = document.getElementById("live-status");
        if (status) status.textContent = "live: updated " + new Date().toLocaleTimeString();
      });
  }

  function watch() {
    var main = document.getElementById("main");
    if (!main || !main.dataset.live || !window.EventSource) return;
    var events = new EventSource(main.dataset.live);
    events.addEventListener("version", function (event) { refresh(event.data); });
  }

  function start() { drawCharts(document); watch(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
