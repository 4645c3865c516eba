// The live dashboard: fetch the figures every few seconds and swap in the part of the page the
// server drew from them. Without this script the page is complete; it only goes stale.
(function () {
  "use strict";
  var live = document.getElementById("live");
  if (!live || !window.fetch) { return; }
  var src = live.getAttribute("data-src");
  var every = parseInt(live.getAttribute("data-every"), 10) || 5000;
  function poll() {
    fetch(src, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data && data.html) { live.innerHTML = data.html; } })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, every); });
  }
  window.setTimeout(poll, every);
}());
