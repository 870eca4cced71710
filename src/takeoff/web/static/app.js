// takeoff page helpers: draw every <canvas data-chart='{...Chart.js config...}'> once Chart.js is loaded.
function takeoffCharts(root) {
  if (!window.Chart) return;
  (root || document).querySelectorAll("canvas[data-chart]").forEach(function (el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    try { new Chart(el, JSON.parse(el.dataset.chart)); } catch (e) { console.error("chart", e); }
  });
}
document.addEventListener("DOMContentLoaded", function () { takeoffCharts(document); });
document.addEventListener("htmx:afterSwap", function (ev) { takeoffCharts(ev.target); });
