// initlab report script: inlined into report.html at render time, after the vendored uPlot.
// Everything here is progressive enhancement: without it the page shows the static figures,
// the table in its written order and every section readable.
(function () {
  "use strict";

  // --- sortable comparison table ---------------------------------------------------------
  document.querySelectorAll("table[data-sortable]").forEach(function (table) {
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (th, col) {
      var numeric = th.getAttribute("data-type") === "num";
      var button = document.createElement("button");
      button.type = "button";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].getAttribute("data-value");
          var y = b.cells[col].getAttribute("data-value");
          if (x === "" || y === "") { return (x === "") - (y === ""); }  // blanks last
          var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
    table.setAttribute("data-sortable", "ready");
  });

  // --- collapsed sections: open the one a link points at; print everything ------------------
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    for (var el = id && document.getElementById(id); el; el = el.parentElement) {
      if (el.tagName === "DETAILS") { el.open = true; }
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  var reopened = [];
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details:not([open])").forEach(function (d) {
      d.open = true; reopened.push(d);
    });
  });
  window.addEventListener("afterprint", function () {
    reopened.forEach(function (d) { d.open = false; });
    reopened = [];
  });

  // --- contents: a sidebar on wide screens, a menu that folds away on phones ---------------
  var menu = document.querySelector("nav.toc > details");
  var narrow = window.matchMedia("(max-width: 60rem)");
  function fitMenu() { if (menu) { menu.open = !narrow.matches; } }
  fitMenu();
  if (narrow.addEventListener) { narrow.addEventListener("change", fitMenu); }
  if (menu) {
    menu.addEventListener("click", function (e) {
      if (e.target.tagName === "A" && narrow.matches) { menu.open = false; }
    });
  }

  // --- interactive charts ----------------------------------------------------------------
  var source = document.getElementById("chart-data");
  if (typeof uPlot === "undefined" || !source) { return; }
  var specs = JSON.parse(source.textContent);
  var plots = {};
  window.initlabCharts = plots;  // the browser tests reach the charts through this

  function fmt(v) {
    if (v === null || v === undefined || !isFinite(v)) { return "–"; }
    var a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(2) : v.toPrecision(4);
  }

  function finiteValues(spec, u, keys, i0, i1) {
    var out = [];
    spec.series.forEach(function (s, k) {
      if (!u.series[k + 1].show) { return; }
      keys.forEach(function (key) {
        var arr = s[key];
        if (!arr) { return; }
        for (var i = i0; i <= i1; i++) {
          if (arr[i] !== null && arr[i] !== undefined && isFinite(arr[i])) { out.push(arr[i]); }
        }
      });
    });
    return out;
  }

  function visibleIdx(u, n) {
    var min = u.scales.x.min, max = u.scales.x.max;
    if (min === undefined || min === null) { return [0, n - 1]; }
    var x = u.data[0], i0 = 0, i1 = n - 1;
    while (i0 < n - 1 && x[i0] < min) { i0++; }
    while (i1 > 0 && x[i1] > max) { i1--; }
    return [i0, Math.max(i0, i1)];
  }

  // y range from what is drawn: means, bands, whiskers and theory lines of shown series
  function yRange(spec) {
    return function (u, dataMin, dataMax) {
      var n = spec.x.length, idx = visibleIdx(u, n);
      var vals = finiteValues(spec, u, ["y", "lo", "hi", "theory"], idx[0], idx[1]);
      if (spec.ylog) { vals = vals.filter(function (v) { return v > 0; }); }
      if (spec.zero) { vals.push(0); }
      if (!vals.length) { return spec.ylog ? [0.1, 10] : [0, 1]; }
      var lo = Math.min.apply(null, vals), hi = Math.max.apply(null, vals);
      if (spec.ylog) {
        var pad = Math.pow(hi / lo, 0.05) || 1.1;
        return [lo / pad, hi * pad];
      }
      var span = hi - lo || Math.abs(hi) || 1;
      return [lo - 0.08 * span, hi + 0.08 * span];
    };
  }

  // canvas position of (x value, y value); interval charts lie on their side (categories
  // down the left, values along the bottom), so there the x scale runs vertically
  function at(u, xv, yv) {
    var a = u.valToPos(xv, "x", true), b = u.valToPos(yv, "y", true);
    return u.scales.x.ori === 1 ? [b, a] : [a, b];
  }

  function path(u, xs, ys, ctx) {  // a polyline through the finite points, gaps left open
    var open = false;
    for (var i = 0; i < xs.length; i++) {
      var y = ys[i];
      if (y === null || y === undefined || !isFinite(y)) { open = false; continue; }
      var p = at(u, xs[i], y);
      if (open) { ctx.lineTo(p[0], p[1]); } else { ctx.moveTo(p[0], p[1]); open = true; }
    }
  }

  function clip(u, ctx) {
    ctx.save();
    ctx.beginPath();
    ctx.rect(u.bbox.left, u.bbox.top, u.bbox.width, u.bbox.height);
    ctx.clip();
  }

  function drawBands(spec) {  // min–max over seeds, under the lines
    return function (u) {
      var ctx = u.ctx;
      clip(u, ctx);
      spec.series.forEach(function (s, k) {
        if (!s.lo || !u.series[k + 1].show) { return; }
        var x = spec.x, start = -1;
        ctx.fillStyle = s.color;
        ctx.globalAlpha = 0.16;
        for (var i = 0; i <= x.length; i++) {  // one polygon per run of finite points
          var ok = i < x.length && s.lo[i] !== null && s.hi[i] !== null;
          if (ok && start < 0) { start = i; }
          if (!ok && start >= 0) {
            ctx.beginPath();
            for (var j = start; j < i; j++) {
              var p = at(u, x[j], s.hi[j]);
              if (j === start) { ctx.moveTo(p[0], p[1]); } else { ctx.lineTo(p[0], p[1]); }
            }
            for (j = i - 1; j >= start; j--) {
              p = at(u, x[j], s.lo[j]);
              ctx.lineTo(p[0], p[1]);
            }
            ctx.closePath();
            ctx.fill();
            start = -1;
          }
        }
      });
      ctx.restore();
    };
  }

  function drawOverlays(spec) {  // theory lines (dashed), interval whiskers, the zero line
    return function (u) {
      var ctx = u.ctx, dpr = uPlot.pxRatio;
      clip(u, ctx);
      if (spec.zero) {
        var z = u.valToPos(0, "y", true), side = u.scales.x.ori === 1;
        ctx.strokeStyle = "#555";
        ctx.lineWidth = dpr;
        ctx.setLineDash([4 * dpr, 4 * dpr]);
        ctx.beginPath();
        ctx.moveTo(side ? z : u.bbox.left, side ? u.bbox.top : z);
        ctx.lineTo(side ? z : u.bbox.left + u.bbox.width, side ? u.bbox.top + u.bbox.height : z);
        ctx.stroke();
      }
      spec.series.forEach(function (s, k) {
        if (!u.series[k + 1].show) { return; }
        ctx.strokeStyle = s.color;
        if (s.theory) {
          ctx.lineWidth = 1.5 * dpr;
          ctx.setLineDash([6 * dpr, 4 * dpr]);
          ctx.beginPath();
          path(u, spec.x, s.theory, ctx);
          ctx.stroke();
        }
        if (spec.kind === "intervals") {
          ctx.lineWidth = 2 * dpr;
          ctx.setLineDash([]);
          var w = 6 * dpr;
          for (var i = 0; i < spec.x.length; i++) {
            if (s.lo[i] === null || s.hi[i] === null) { continue; }
            var lo = at(u, spec.x[i], s.lo[i]), hi = at(u, spec.x[i], s.hi[i]);
            var dx = lo[0] === hi[0] ? w : 0, dy = dx ? 0 : w;  // caps across the whisker
            ctx.beginPath();
            ctx.moveTo(lo[0], lo[1]); ctx.lineTo(hi[0], hi[1]);
            ctx.moveTo(lo[0] - dx, lo[1] - dy); ctx.lineTo(lo[0] + dx, lo[1] + dy);
            ctx.moveTo(hi[0] - dx, hi[1] - dy); ctx.lineTo(hi[0] + dx, hi[1] + dy);
            ctx.stroke();
          }
        }
      });
      ctx.restore();
    };
  }

  // Ctrl + wheel (or a trackpad pinch) zooms the steps, Shift + drag pans; plain scrolling
  // keeps scrolling the page.
  function zoomPan(u, spec) {
    var first = spec.x[0], last = spec.x[spec.x.length - 1];
    function set(min, max) {
      var span = max - min;
      if (span >= last - first) { min = first; max = last; }
      if (min < first) { max += first - min; min = first; }
      if (max > last) { min -= max - last; max = last; }
      u.setScale("x", {min: min, max: max});
    }
    u.over.addEventListener("wheel", function (e) {
      if (!e.ctrlKey) { return; }
      e.preventDefault();
      var at = u.posToVal(e.offsetX, "x"), f = e.deltaY < 0 ? 0.75 : 1 / 0.75;
      set(at - (at - u.scales.x.min) * f, at + (u.scales.x.max - at) * f);
    }, {passive: false});
    u.root.addEventListener("mousedown", function (e) {
      if (!e.shiftKey || !u.over.contains(e.target)) { return; }
      e.stopPropagation();  // capture phase: uPlot's own drag-to-zoom never sees it
      e.preventDefault();
      var x0 = e.clientX, min = u.scales.x.min, max = u.scales.x.max;
      var perPx = (max - min) / u.over.clientWidth;
      function move(m) { var d = (m.clientX - x0) * perPx; set(min - d, max - d); }
      function up() {
        document.removeEventListener("mousemove", move);
        document.removeEventListener("mouseup", up);
      }
      document.addEventListener("mousemove", move);
      document.addEventListener("mouseup", up);
    }, true);
  }

  function size(target, spec) {
    var width = Math.max(240, target.clientWidth);
    if (spec.kind === "intervals") {  // a row per category
      return {width: width, height: 90 + 30 * spec.x.length};
    }
    return {width: width, height: Math.round(Math.min(360, Math.max(220, width * 0.55)))};
  }

  function options(spec, target) {
    var intervals = spec.kind === "intervals";
    var series = [{label: spec.xlabel || "", value: function (u, v) {
      return intervals ? (v === null ? "–" : spec.categories[v]) : fmt(v);
    }}];
    spec.series.forEach(function (s, k) {
      series.push({
        label: s.label, stroke: s.color, width: 2, spanGaps: false,
        paths: intervals ? function () { return null; } : undefined,
        points: {show: intervals || !!spec.points, size: intervals ? 9 : 6, fill: s.color},
        value: function (u, v, si, i) {
          if (i === null || i === undefined) { return "–"; }
          var text = fmt(s.y[i]);
          if (intervals && s.lo[i] !== null) { text += " [" + fmt(s.lo[i]) + ", " + fmt(s.hi[i]) + "]"; }
          if (s.theory && s.theory[i] !== null && s.theory[i] !== undefined) {
            text += " · theory " + fmt(s.theory[i]);
          }
          return text;
        },
      });
    });
    var xAxis = {label: spec.xlabel || null};
    var yAxis = {label: spec.ylabel, size: 60};
    if (intervals) {  // on its side: categories down the left, values along the bottom
      var longest = Math.max.apply(null, spec.categories.map(function (c) { return c.length; }));
      var small = target.clientWidth < 500, px = small ? 10 : 12;  // phones: smaller labels
      xAxis = {side: 3, splits: function () { return spec.x; }, gap: 4,
               font: px + "px system-ui, sans-serif",
               size: Math.min(target.clientWidth * (small ? 0.55 : 0.45), 16 + 0.6 * px * longest),
               values: function (u, splits) {
                 return splits.map(function (i) { return spec.categories[i]; });
               }};
      yAxis = {side: 2, label: spec.ylabel, size: 50};
    } else if (spec.integer_x) {
      xAxis.splits = function () { return spec.x; };
    }
    var opts = size(target, spec);
    opts.series = series;
    opts.scales = {
      x: intervals ? {time: false, ori: 1, dir: -1, range: [-0.5, spec.x.length - 0.5]}
        : {time: false},
      y: intervals ? {ori: 0, range: yRange(spec)}
        : {distr: spec.ylog ? 3 : 1, log: 10, range: yRange(spec)},
    };
    opts.axes = [xAxis, yAxis];
    opts.legend = {live: true};
    opts.cursor = intervals || spec.integer_x ? {drag: {x: false, y: false}} : {drag: {x: true, y: false}};
    opts.hooks = {drawClear: [drawBands(spec)], draw: [drawOverlays(spec)]};
    return opts;
  }

  function data(spec) {
    return [spec.x].concat(spec.series.map(function (s) { return s.y; }));
  }

  function make(fig, spec, target) {
    var u = new uPlot(options(spec, target), data(spec), target);
    if (spec.kind === "lines" && !spec.integer_x) { zoomPan(u, spec); }
    var note = fig.querySelector(".chart-note");
    if (note) { note.textContent = spec.note || ""; }
    return u;
  }

  function mount(fig, spec) {
    var live = fig.querySelector(".chart-live");
    var target = document.createElement("div");
    var id = fig.getAttribute("data-chart");
    var current = spec.kind === "views" ? spec.views[0] : spec;
    live.hidden = false;
    fig.classList.add("live");
    if (spec.kind === "views") {
      var label = document.createElement("label");
      var select = document.createElement("select");
      label.className = "chart-view";
      label.appendChild(document.createTextNode("Show "));
      spec.views.forEach(function (view, i) {
        var option = document.createElement("option");
        option.value = String(i);
        option.textContent = view.label;
        select.appendChild(option);
      });
      label.appendChild(select);
      live.appendChild(label);
      live.appendChild(target);
      plots[id] = make(fig, current, target);
      select.addEventListener("change", function () {
        plots[id].destroy();
        current = spec.views[+select.value];
        plots[id] = make(fig, current, target);
      });
    } else {
      live.appendChild(target);
      plots[id] = make(fig, spec, target);
    }
    if (window.ResizeObserver) {
      var width = target.clientWidth, pending = false;
      new ResizeObserver(function () {
        if (pending || target.clientWidth === width) { return; }
        pending = true;  // resize on the next frame, not inside the observer's own callback
        window.requestAnimationFrame(function () {
          pending = false;
          width = target.clientWidth;
          plots[id].setSize(size(target, current));
        });
      }).observe(target);
    }
  }

  document.querySelectorAll("[data-chart]").forEach(function (fig) {
    var spec = specs[fig.getAttribute("data-chart")];
    if (spec) { mount(fig, spec); }
  });
})();
