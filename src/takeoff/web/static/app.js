// takeoff page helpers (the only page script: the Content-Security-Policy allows no inline script or on*= handler).
// Draw every <canvas data-chart='{...Chart.js config...}'> once Chart.js is loaded.
function takeoffCharts(root) {
  if (!window.Chart) return;
  (root || document).querySelectorAll("canvas[data-chart]").forEach(function (el) {
    if (el.dataset.drawn) return;
    el.dataset.drawn = "1";
    try { new Chart(el, drillDown(el, JSON.parse(el.dataset.chart))); } catch (e) { console.error("chart", e); }
  });
}
// <canvas data-drill="/requests?..." data-times="[bucket starts]" data-step="s">: a click on a point opens the
// requests of that point's bucket.
function drillDown(el, cfg) {
  if (!el.dataset.drill || !el.dataset.times) return cfg;
  var times = JSON.parse(el.dataset.times), step = Number(el.dataset.step) || 60;
  cfg.options = cfg.options || {};
  cfg.options.onClick = function (evt, elements) {
    if (!elements.length) return;
    var t = times[elements[0].index];
    if (t === undefined) return;
    window.location.href = el.dataset.drill + "&start=" + t + "&end=" + (t + step);
  };
  cfg.options.onHover = function (evt, elements) { el.style.cursor = elements.length ? "pointer" : "default"; };
  return cfg;
}
document.addEventListener("DOMContentLoaded", function () { takeoffCharts(document); });
document.addEventListener("htmx:afterSwap", function (ev) { takeoffCharts(ev.target); });
// <a data-back>: go back in history when there is a page to go back to, else follow the link.
document.addEventListener("click", function (ev) {
  var link = ev.target.closest && ev.target.closest("a[data-back]");
  if (link && window.history.length > 1) { ev.preventDefault(); window.history.back(); }
});
// A refused edit comes back at its POST address with the form open ([data-failed]): show that form, put the cursor
// on the first field with a problem, and give the address bar the page's own address (a reload does not re-post).
document.addEventListener("DOMContentLoaded", function () {
  var failed = document.querySelector("[data-failed]");
  if (failed) {
    failed.scrollIntoView({block: "start"});
    var bad = failed.querySelector("[aria-invalid=true]");
    if (bad) bad.focus();
  }
  var url = document.body.getAttribute("data-page-url");
  if (url && url !== window.location.pathname) {
    window.history.replaceState(null, "", url + (failed && failed.id ? "#" + failed.id : ""));
  }
});
// The use-case page is in sections, each at its own address: a link to a part of the older one-page layout
// (/usecases/k#scores) is sent to the section that now holds it, from the map the section nav carries.
document.addEventListener("DOMContentLoaded", function () {
  var nav = document.querySelector("nav.uc-nav[data-anchors]"), id = window.location.hash.slice(1);
  if (!nav || !id || document.getElementById(id)) return;
  var section = JSON.parse(nav.dataset.anchors)[id];
  if (section) {
    window.location.replace(nav.dataset.base + (section === "overview" ? "" : "/" + section) + "#" + id);
  }
});
