// Heatmap tooltips on the validation page: the pair, RTT, loss and Gb/s under the pointer.
// Small heatmaps carry each cell's text in its <title>; big ones are one image, and the cell
// under the pointer is asked of the server. No inline script: works under a strict CSP.
(function () {
  "use strict";
  var cache = {};
  var pending = null;

  function tip() { return document.getElementById("hm-tooltip"); }

  function show(text, event) {
    var box = tip();
    if (!box) return;
    box.textContent = text;
    box.hidden = false;
    box.style.left = event.clientX + 14 + "px";
    box.style.top = event.clientY + 14 + "px";
  }

  function hide() {
    var box = tip();
    if (box) box.hidden = true;
  }

  function rasterCell(svg, event) {
    var count = parseInt(svg.getAttribute("data-count"), 10);
    var box = svg.getBoundingClientRect();
    var col = Math.floor(((event.clientX - box.left) / box.width) * count);
    var row = Math.floor(((event.clientY - box.top) / box.height) * count);
    if (row < 0 || col < 0 || row >= count || col >= count) return null;
    return { row: row, col: col };
  }

  document.addEventListener("mousemove", function (event) {
    var target = event.target;
    if (target instanceof SVGRectElement && target.classList.contains("cell")) {
      var title = target.querySelector("title");
      if (title) show(title.textContent, event);
      return;
    }
    var svg = target.closest ? target.closest("svg.heatmap-raster") : null;
    if (!svg) { hide(); return; }
    var figure = svg.closest(".rail-map");
    var at = rasterCell(svg, event);
    if (!figure || !at) { hide(); return; }
    var url = figure.getAttribute("data-cell-url") + "?row=" + at.row + "&col=" + at.col;
    if (cache[url]) { show(cache[url], event); return; }
    if (pending) clearTimeout(pending);
    pending = setTimeout(function () {
      fetch(url, { credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (cell) { if (cell) { cache[url] = cell.text; show(cell.text, event); } });
    }, 60);
  });

  document.addEventListener("mouseleave", hide, true);
})();
