/* The rlog_env leaderboard page (rlog_env/leaderboard/site.py writes it beside index.html).
 *
 * The overview's data is the JSON block #rlog-data of index.html; the episodes come in files
 * beside it that call rlogIndex(n, columns) (a summary of each episode, to filter on) and
 * rlogChunk(n, records) (the episodes themselves, loaded when one is opened).
 *
 * Everything from a run (agent names, prompts, answers, references, tool outputs, metric names)
 * is untrusted: it enters the page only as text (text nodes, textContent, option labels), never
 * as markup, and never names an attribute, a URL or a style. Attributes set here come from this
 * file (class names, numbers, colours). No innerHTML, no eval, no network: the page opens from
 * disk and its Content-Security-Policy allows no other script.
 */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("rlog-data").textContent);
  var BOARD = DATA.board;
  var TASKS = BOARD.tasks;
  var EP = DATA.episodes;
  var SVGNS = "http://www.w3.org/2000/svg";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                 "#7f7f7f", "#bcbd22"];
  var PAGE = 50;

  // -- DOM: run content becomes text nodes, nothing else ---------------------------------------
  function append(node, children) {
    if (children === undefined || children === null) return node;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (child) {
      if (child === undefined || child === null) return;
      if (Array.isArray(child)) append(node, child);
      else node.appendChild(typeof child === "object" && child.nodeType ? child : document.createTextNode(String(child)));
    });
    return node;
  }
  function el(tag, cls, children) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    return append(node, children);
  }
  function sv(tag, attrs, text) { // attributes come from this file: numbers, colours, class names
    var node = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }
  function button(label, cls, onClick) {
    var b = el("button", cls, label);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }
  function colour(i) { return PALETTE[i % PALETTE.length]; }
  function swatch(i) {
    var s = sv("svg", {width: 12, height: 12, "class": "swatch", "aria-hidden": "true"});
    s.appendChild(sv("rect", {width: 12, height: 12, rx: 2, fill: colour(i)}));
    return s;
  }
  function short(text, n) { text = String(text); return text.length > n ? text.slice(0, n - 1) + "\u2026" : text; }

  // -- numbers (the board writes infinities and NaN as strings) --------------------------------
  function num(v) {
    if (typeof v === "number") return v;
    if (v === "Infinity") return Infinity;
    if (v === "-Infinity") return -Infinity;
    return NaN;
  }
  function fixed(v, digits) {
    v = num(v);
    if (isNaN(v)) return "-";
    if (!isFinite(v)) return v > 0 ? "inf" : "-inf";
    return v.toFixed(digits === undefined ? 3 : digits);
  }
  function metricText(v) { // as tables._fmt
    v = num(v);
    if (isNaN(v)) return "-";
    return Math.abs(v) < 10 ? v.toFixed(3) : v.toFixed(1);
  }
  function rateText(v) { // as tables.format_rate
    v = num(v);
    if (!isFinite(v)) return "inf";
    return v >= 100 ? Math.round(v).toLocaleString("en-US") : String(Number(v.toPrecision(3)));
  }
  function pct(v) { v = num(v); return isNaN(v) ? "-" : (v * 100).toFixed(1) + "%"; }
  function interval(ci) { return ci ? "[" + fixed(ci[0]) + ", " + fixed(ci[1]) + "]" : ""; }

  // -- a table sortable by any column ---------------------------------------------------------
  // columns: {label, key(item) -> number or string (null: missing, sorted last), cell(item) -> text or node,
  // num: numeric (right-aligned, largest first on the first click), title}
  function sortable(columns, items, id) {
    var table = el("table", "data"), head = el("tr"), body = el("tbody");
    if (id) table.id = id;
    var rows = items.map(function (item, pos) {
      var tr = el("tr");
      columns.forEach(function (c) { tr.appendChild(el("td", c.num ? "num" : null, c.cell(item))); });
      return {item: item, pos: pos, tr: tr};
    });
    var state = {col: -1, dir: 1};
    var ths = columns.map(function (c, i) {
      var th = el("th", c.num ? "num" : null);
      th.setAttribute("aria-sort", "none");
      var b = button(c.label, "sort", function () { sortBy(i); });
      if (c.title) b.title = c.title;
      th.appendChild(b);
      head.appendChild(th);
      return th;
    });
    function missing(v) { return v === null || v === undefined || (typeof v === "number" && isNaN(v)); }
    function sortBy(i) {
      var c = columns[i];
      state.dir = state.col === i ? -state.dir : (c.num ? -1 : 1);
      state.col = i;
      rows.sort(function (a, b) {
        var x = c.key(a.item), y = c.key(b.item);
        if (missing(x) || missing(y)) return missing(x) === missing(y) ? a.pos - b.pos : (missing(x) ? 1 : -1);
        if (x < y) return -state.dir;
        if (x > y) return state.dir;
        return a.pos - b.pos;
      });
      ths.forEach(function (th, j) {
        th.setAttribute("aria-sort", j === i ? (state.dir > 0 ? "ascending" : "descending") : "none");
      });
      rows.forEach(function (r) { body.appendChild(r.tr); });
    }
    rows.forEach(function (r) { body.appendChild(r.tr); });
    var thead = el("thead");
    if (columns.some(function (c) { return c.group; })) { // a row of group headings over their columns
      var groups = el("tr", "groups");
      columns.forEach(function (c, i) {
        if (i && columns[i - 1].group === c.group && c.group) { groups.lastChild.colSpan += 1; return; }
        groups.appendChild(el("th", c.group ? "group" : null, c.group || ""));
      });
      thead.appendChild(groups);
    }
    thead.appendChild(head);
    table.appendChild(thead);
    table.appendChild(body);
    return el("div", "table-wrap", table);
  }

  // -- the overview -----------------------------------------------------------------------------
  var ROWS = BOARD.rows.map(function (row, i) { return {i: i, row: row, totals: DATA.totals[i]}; });
  function cellOf(item, task) { return item.row.tasks[task] || null; }
  function agentCell(item) { return el("span", "agent", [swatch(item.i), item.row.agent]); }
  function agentColumn() { return {label: "agent", key: function (r) { return r.row.agent; }, cell: agentCell}; }

  function rewardCell(cell) {
    if (!cell) return el("span", "muted", "-");
    var node = el("span", "reward", [el("strong", null, fixed(cell.reward)), el("br"), el("small", "ci", interval(cell.reward_ci))]);
    node.title = cell.episodes + " episodes";
    return node;
  }

  function drawOverview(root) {
    root.appendChild(el("h2", null, "Mean reward per environment"));
    root.appendChild(el("p", "muted", "Mean R-Log reward per environment (an investigation's return), with its 95 % " +
      "bootstrap interval; format-valid, errors and episodes per second over all of an agent's episodes. " +
      "Click a column heading to sort by it."));
    if (!ROWS.length) {
      root.appendChild(el("p", null, "No episodes."));
      return;
    }
    var columns = [agentColumn()];
    TASKS.forEach(function (task) {
      columns.push({label: task, num: true, title: "mean reward [95 % interval]",
        key: function (r) { var c = cellOf(r, task); return c ? num(c.reward) : null; },
        cell: function (r) { return rewardCell(cellOf(r, task)); }});
    });
    columns.push({label: "format-valid", num: true, key: function (r) { return num(r.totals.format_valid); },
                  cell: function (r) { return pct(r.totals.format_valid); }});
    columns.push({label: "errors", num: true, key: function (r) { return r.totals.errors; },
                  cell: function (r) { return String(r.totals.errors); }});
    columns.push({label: "episodes/s", num: true, key: function (r) { return num(r.totals.episodes_per_s); },
                  cell: function (r) { return rateText(r.totals.episodes_per_s); }});
    root.appendChild(sortable(columns, ROWS, "overview-table"));
    drawSeenUnseen(root);
    TASKS.forEach(function (task) { drawFieldMetrics(root, task); });
    TASKS.forEach(function (task) { drawCategories(root, task); });
  }

  function drawSeenUnseen(root) {
    var columns = [agentColumn()], any = false;
    TASKS.forEach(function (task) {
      ["seen", "unseen"].forEach(function (split) {
        var present = ROWS.some(function (r) { var c = cellOf(r, task); return c && c.by_domain && split in c.by_domain; });
        if (!present) return;
        any = true;
        columns.push({label: split, group: task, num: true,
          key: function (r) { var c = cellOf(r, task); return c && split in c.by_domain ? num(c.by_domain[split]) : null; },
          cell: function (r) { var c = cellOf(r, task); return c && split in c.by_domain ? metricText(c.by_domain[split]) : "-"; }});
      });
    });
    if (!any) return;
    root.appendChild(el("h2", null, "Seen vs unseen systems and faults"));
    root.appendChild(el("p", "muted", "Mean reward on the systems and fault types an agent could have trained on, and on those held out."));
    var items = ROWS.filter(function (r) {
      return TASKS.some(function (t) { var c = cellOf(r, t); return c && c.by_domain && ("seen" in c.by_domain || "unseen" in c.by_domain); });
    });
    root.appendChild(sortable(columns, items, "seen-unseen-table"));
  }

  function drawFieldMetrics(root, task) {
    var names = [];
    ROWS.forEach(function (r) {
      var c = cellOf(r, task);
      Object.keys(c ? c.metrics : {}).forEach(function (n) { if (names.indexOf(n) < 0) names.push(n); });
    });
    if (!names.length) return;
    var items = ROWS.filter(function (r) { return cellOf(r, task); });
    var columns = [agentColumn(), {label: "episodes", num: true, key: function (r) { return cellOf(r, task).episodes; },
                                   cell: function (r) { return String(cellOf(r, task).episodes); }}];
    names.forEach(function (name) {
      columns.push({label: name, num: true,
        key: function (r) { var v = cellOf(r, task).metrics[name]; return v === undefined ? null : num(v); },
        cell: function (r) {
          var c = cellOf(r, task), v = c.metrics[name], ci = (c.metrics_ci || {})[name];
          return v === undefined ? "-" : el("span", null, [metricText(v), ci ? " " : "", ci ? el("small", "ci", interval(ci)) : null]);
        }});
    });
    root.appendChild(el("h3", null, task + ": the field's metrics"));
    root.appendChild(sortable(columns, items));
  }

  function drawCategories(root, task) {
    var categories = [];
    ROWS.forEach(function (r) {
      var c = cellOf(r, task);
      Object.keys((c && c.by_category) || {}).forEach(function (n) { if (categories.indexOf(n) < 0) categories.push(n); });
    });
    if (!categories.length) return;
    categories.sort();
    var agents = ROWS.filter(function (r) { return cellOf(r, task); });
    var columns = [{label: "fault category", key: function (n) { return n; }, cell: function (n) { return n; }}];
    agents.forEach(function (r) {
      columns.push({label: r.row.agent, num: true,
        key: function (n) { var v = cellOf(r, task).by_category[n]; return v ? num(v[0]) : null; },
        cell: function (n) { var v = cellOf(r, task).by_category[n]; return v ? metricText(v[0]) + " (" + v[1] + ")" : "-"; }});
    });
    root.appendChild(el("h3", null, task + ": mean return by fault category (episodes)"));
    root.appendChild(sortable(columns, categories));
  }

  // -- charts -----------------------------------------------------------------------------------
  function legend() {
    return el("div", "legend", ROWS.map(function (r) { return el("span", "legend-item", [swatch(r.i), r.row.agent]); }));
  }

  function niceTicks(lo, hi, count) {
    var span = hi - lo || 1, step = Math.pow(10, Math.floor(Math.log(span / count) / Math.LN10));
    [1, 2, 2.5, 5, 10].some(function (m) { if (span / (step * m) <= count) { step *= m; return true; } return false; });
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) ticks.push(Math.abs(t) < 1e-12 ? 0 : t);
    return ticks;
  }

  function drawRadar(root) {
    var n = TASKS.length;
    var box = el("figure", "chart-box");
    if (n < 3) {
      box.appendChild(el("p", "muted", "The radar needs three environments or more; this board has " + n + "."));
      root.appendChild(box);
      return;
    }
    var W = 660, H = 440, cx = W / 2, cy = 218, R = 160;
    var s = sv("svg", {viewBox: "0 0 " + W + " " + H, "class": "chart radar", role: "img", id: "radar"});
    s.appendChild(sv("title", {}, DATA.radar.title));
    function point(k, v) {
      var a = -Math.PI / 2 + 2 * Math.PI * k / n, r = R * v;
      return [cx + r * Math.cos(a), cy + r * Math.sin(a)];
    }
    [0.25, 0.5, 0.75, 1].forEach(function (ring) {
      var pts = TASKS.map(function (t, k) { return point(k, ring).join(","); }).join(" ");
      s.appendChild(sv("polygon", {points: pts, "class": ring === 1 ? "grid best" : "grid"}));
      var at = point(0.5, ring); // between the first two axes
      s.appendChild(sv("text", {x: at[0] + 2, y: at[1] - 2, "class": "tick"}, ring === 1 ? "1 = best" : String(ring)));
    });
    TASKS.forEach(function (task, k) {
      var end = point(k, 1), label = point(k, 1.16);
      s.appendChild(sv("line", {x1: cx, y1: cy, x2: end[0], y2: end[1], "class": "axis"}));
      var anchor = Math.abs(label[0] - cx) < 5 ? "middle" : (label[0] > cx ? "start" : "end");
      s.appendChild(sv("text", {x: label[0], y: label[1] + 4, "text-anchor": anchor, "class": "label"}, task));
    });
    ROWS.forEach(function (r) {
      var values = DATA.radar.values[r.i];
      var pts = values.map(function (v, k) { return point(k, Math.max(0, Math.min(1.1, num(v)))).join(","); }).join(" ");
      var poly = sv("polygon", {points: pts, fill: colour(r.i), "fill-opacity": 0.08, stroke: colour(r.i), "stroke-width": 2});
      poly.appendChild(sv("title", {}, r.row.agent));
      s.appendChild(poly);
    });
    box.appendChild(s);
    box.appendChild(legend());
    box.appendChild(el("figcaption", null, [el("strong", null, DATA.radar.title), el("br"), DATA.radar.scale]));
    root.appendChild(box);
  }

  function drawBars(root, task) {
    var items = ROWS.filter(function (r) { return cellOf(r, task); });
    if (!items.length) return;
    var lo = 0, hi = 0;
    items.forEach(function (r) {
      var c = cellOf(r, task);
      lo = Math.min(lo, num(c.reward_ci[0]), num(c.reward));
      hi = Math.max(hi, num(c.reward_ci[1]), num(c.reward));
    });
    var ticks = niceTicks(lo, hi, 5);
    lo = Math.min(lo, ticks[0]); hi = Math.max(hi, ticks[ticks.length - 1]);
    var left = 150, W = 460, rowH = 24, top = 8, H = top + rowH * items.length + 28;
    function x(v) { return left + (W - left - 12) * (v - lo) / ((hi - lo) || 1); }
    var s = sv("svg", {viewBox: "0 0 " + W + " " + H, "class": "chart bars", role: "img"});
    s.appendChild(sv("title", {}, task + ": mean reward with 95 % intervals"));
    ticks.forEach(function (t) {
      s.appendChild(sv("line", {x1: x(t), x2: x(t), y1: top, y2: H - 22, "class": t === 0 ? "zero" : "grid"}));
      s.appendChild(sv("text", {x: x(t), y: H - 8, "text-anchor": "middle", "class": "tick"}, String(Number(t.toFixed(3)))));
    });
    items.forEach(function (r, k) {
      var c = cellOf(r, task), y = top + k * rowH, mean = num(c.reward);
      s.appendChild(sv("text", {x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end", "class": "label"}, short(r.row.agent, 22)));
      var bar = sv("rect", {x: Math.min(x(0), x(mean)), y: y + 5, width: Math.max(1, Math.abs(x(mean) - x(0))), height: rowH - 10,
                            fill: colour(r.i), "fill-opacity": 0.75});
      bar.appendChild(sv("title", {}, r.row.agent + ": " + fixed(mean) + " " + interval(c.reward_ci)));
      s.appendChild(bar);
      var a = x(num(c.reward_ci[0])), b = x(num(c.reward_ci[1])), m = y + rowH / 2;
      s.appendChild(sv("line", {x1: a, x2: b, y1: m, y2: m, "class": "whisker"}));
      s.appendChild(sv("line", {x1: a, x2: a, y1: m - 5, y2: m + 5, "class": "whisker"}));
      s.appendChild(sv("line", {x1: b, x2: b, y1: m - 5, y2: m + 5, "class": "whisker"}));
    });
    root.appendChild(el("figure", "chart-box small", [s, el("figcaption", null, task + ": mean reward, 95 % interval")]));
  }

  function drawReturnVsTurns(root, task) {
    var items = ROWS.filter(function (r) { var c = cellOf(r, task); return c && c.metrics && c.metrics.turns !== undefined; });
    if (!items.length) return;
    var code = EP.columns.indexOf(task), dots = [];
    if (code >= 0 && INDEX.loaded) {
      var every = Math.max(1, Math.floor(INDEX.loaded / 20000));
      for (var g = 0; g < INDEX.loaded; g += every) if (INDEX.task[g] === code) dots.push(g);
      if (dots.length > 3000) dots = dots.filter(function (d, k) { return k % Math.ceil(dots.length / 3000) === 0; });
    }
    var xmax = 1, ylo = 0, yhi = 0;
    items.forEach(function (r) {
      var c = cellOf(r, task);
      xmax = Math.max(xmax, num(c.metrics.turns));
      ylo = Math.min(ylo, num(c.reward_ci[0])); yhi = Math.max(yhi, num(c.reward_ci[1]));
    });
    dots.forEach(function (g) { xmax = Math.max(xmax, INDEX.turns[g]); ylo = Math.min(ylo, INDEX.score[g]); yhi = Math.max(yhi, INDEX.score[g]); });
    var yt = niceTicks(ylo, yhi, 5), xt = niceTicks(0, xmax, 6);
    ylo = Math.min(ylo, yt[0]); yhi = Math.max(yhi, yt[yt.length - 1]); xmax = Math.max(xmax, xt[xt.length - 1]);
    var W = 460, H = 300, L = 48, B = 36, T = 10, Rm = 12;
    function x(v) { return L + (W - L - Rm) * v / xmax; }
    function y(v) { return H - B - (H - B - T) * (v - ylo) / ((yhi - ylo) || 1); }
    var s = sv("svg", {viewBox: "0 0 " + W + " " + H, "class": "chart scatter", role: "img"});
    s.appendChild(sv("title", {}, task + ": return against turns"));
    yt.forEach(function (t) {
      s.appendChild(sv("line", {x1: L, x2: W - Rm, y1: y(t), y2: y(t), "class": t === 0 ? "zero" : "grid"}));
      s.appendChild(sv("text", {x: L - 6, y: y(t) + 4, "text-anchor": "end", "class": "tick"}, String(Number(t.toFixed(3)))));
    });
    xt.forEach(function (t) {
      s.appendChild(sv("text", {x: x(t), y: H - B + 16, "text-anchor": "middle", "class": "tick"}, String(t)));
    });
    s.appendChild(sv("text", {x: (L + W) / 2, y: H - 4, "text-anchor": "middle", "class": "label"}, "turns"));
    s.appendChild(sv("text", {x: 12, y: T + (H - B) / 2, "text-anchor": "middle", "class": "label",
                              transform: "rotate(-90 12 " + (T + (H - B) / 2) + ")"}, "return"));
    dots.forEach(function (g, k) {
      var jitter = ((k * 7919) % 11 - 5) / 25;
      s.appendChild(sv("circle", {cx: x(INDEX.turns[g] + jitter), cy: y(INDEX.score[g]), r: 2, fill: colour(INDEX.agent[g]), "fill-opacity": 0.3}));
    });
    items.forEach(function (r) {
      var c = cellOf(r, task), cx = x(num(c.metrics.turns));
      s.appendChild(sv("line", {x1: cx, x2: cx, y1: y(num(c.reward_ci[0])), y2: y(num(c.reward_ci[1])), stroke: colour(r.i), "stroke-width": 2}));
      var dot = sv("circle", {cx: cx, cy: y(num(c.reward)), r: 6, fill: colour(r.i), stroke: "#fff", "stroke-width": 1.5});
      dot.appendChild(sv("title", {}, r.row.agent + ": return " + fixed(c.reward) + " in " + fixed(c.metrics.turns, 1) + " turns"));
      s.appendChild(dot);
    });
    root.appendChild(el("figure", "chart-box small", [s, el("figcaption", null, task + ": mean return (interval) against mean turns" +
      (dots.length ? "; small dots: episodes" : ""))]));
  }

  var chartsDrawn = false;
  function drawCharts() {
    var root = clear(document.getElementById("view-charts"));
    chartsDrawn = true;
    if (!ROWS.length) { root.appendChild(el("p", null, "No episodes.")); return; }
    root.appendChild(el("h2", null, "Each agent relative to the best"));
    drawRadar(root);
    root.appendChild(el("h2", null, "Mean reward per environment"));
    var bars = el("div", "chart-grid");
    TASKS.forEach(function (task) { drawBars(bars, task); });
    root.appendChild(bars);
    var turns = el("div", "chart-grid");
    TASKS.forEach(function (task) { drawReturnVsTurns(turns, task); });
    if (turns.firstChild) {
      root.appendChild(el("h2", null, "Investigations: return against turns"));
      root.appendChild(turns);
    }
  }

  // -- the episodes' index (summaries, loaded file by file) ------------------------------------
  var INDEX = {loaded: 0, files: 0, failed: null};
  ["agent", "task", "domain", "split", "chunk", "turns"].forEach(function (k) { INDEX[k] = new Int32Array(EP.count); });
  INDEX.unseen = new Int8Array(EP.count);
  INDEX.flags = new Int8Array(EP.count);
  INDEX.score = new Float64Array(EP.count);
  INDEX.sample = new Float64Array(EP.count);
  var COLUMNS = ["agent", "task", "domain", "split", "unseen", "score", "sample", "chunk", "turns", "flags"];

  var CHUNK_STARTS = []; // the first episode of each chunk (chunk numbers never decrease)
  window.rlogIndex = function (n, columns) {
    var start = n * EP.per_index;
    COLUMNS.forEach(function (k) { INDEX[k].set(columns[k], start); });
    for (var g = start; g < start + columns.agent.length; g++) {
      if (CHUNK_STARTS[INDEX.chunk[g]] === undefined) CHUNK_STARTS[INDEX.chunk[g]] = g;
    }
    INDEX.loaded = Math.max(INDEX.loaded, start + columns.agent.length);
  };

  function pad(n) { var s = String(n); while (s.length < 4) s = "0" + s; return s; }
  function loadScript(src, done, failed) {
    var s = document.createElement("script");
    s.src = src;
    s.onload = function () { s.remove(); done(); };
    s.onerror = function () { s.remove(); failed(); };
    document.head.appendChild(s);
  }
  function loadIndex(n) {
    if (n >= EP.index_files) { indexProgress(true); return; }
    loadScript("episodes/index-" + pad(n) + ".js", function () {
      INDEX.files = n + 1;
      indexProgress(false);
      setTimeout(function () { loadIndex(n + 1); }, 0);
    }, function () {
      INDEX.failed = "episodes/index-" + pad(n) + ".js";
      indexProgress(true);
    });
  }

  // -- chunks (whole episodes, loaded on demand) -------------------------------------------------
  var CHUNKS = {}, WAITING = {}, LOADED_ORDER = [];
  window.rlogChunk = function (n, records) {
    CHUNKS[n] = records;
    LOADED_ORDER.push(n);
    if (LOADED_ORDER.length > 40) delete CHUNKS[LOADED_ORDER.shift()];
  };
  function withChunk(n, done, failed) {
    if (CHUNKS[n]) { done(CHUNKS[n]); return; }
    if (WAITING[n]) { WAITING[n].push([done, failed]); return; }
    WAITING[n] = [[done, failed]];
    loadScript("episodes/chunk-" + pad(n) + ".js", function () {
      var waiting = WAITING[n]; delete WAITING[n];
      waiting.forEach(function (w) { if (CHUNKS[n]) w[0](CHUNKS[n]); else w[1](); });
    }, function () {
      var waiting = WAITING[n]; delete WAITING[n];
      waiting.forEach(function (w) { w[1](); });
    });
  }
  function withEpisode(g, done) {
    var chunk = INDEX.chunk[g];
    withChunk(chunk, function (records) { done(records[g - CHUNK_STARTS[chunk]]); }, function () {
      done(null, "episodes/chunk-" + pad(chunk) + ".js could not be loaded; it belongs beside index.html");
    });
  }

  // -- the episode browser -------------------------------------------------------------------------
  var FILTER = {}, MATCHES = new Int32Array(0), PAGE_AT = 0, OPEN = -1;

  function select(name, label, options) {
    var s = el("select", null);
    s.name = name;
    s.id = "filter-" + name;
    options.forEach(function (o) { var opt = el("option", null, o[1]); opt.value = String(o[0]); s.appendChild(opt); });
    s.addEventListener("change", applyFilters);
    return el("label", null, [label, s]);
  }
  function listOptions(values, all) {
    return [[-1, all]].concat(values.map(function (v, i) { return [i, v === "" ? "(none)" : v]; }));
  }
  function numberInput(name, label, placeholder) {
    var input = el("input", null);
    input.type = "number";
    input.step = "any";
    input.name = name;
    input.id = "filter-" + name;
    input.placeholder = placeholder;
    input.addEventListener("input", applyFilters);
    return el("label", null, [label, input]);
  }

  function buildFilters() {
    var form = document.getElementById("filters");
    form.addEventListener("submit", function (e) { e.preventDefault(); });
    form.appendChild(select("agent", "agent", listOptions(EP.agents, "every agent")));
    form.appendChild(select("task", "environment", listOptions(EP.columns, "every environment")));
    form.appendChild(select("domain", "domain", listOptions(EP.domains, "every domain")));
    form.appendChild(select("split", "split", listOptions(EP.splits, "every split")));
    form.appendChild(select("unseen", "systems", [[-1, "seen and unseen"], [0, "seen"], [1, "unseen"]]));
    form.appendChild(numberInput("min", "reward \u2265", "min"));
    form.appendChild(numberInput("max", "reward \u2264", "max"));
  }

  function readFilters() {
    function code(name) { return parseInt(document.getElementById("filter-" + name).value, 10); }
    function bound(name, otherwise) {
      var v = document.getElementById("filter-" + name).value;
      return v === "" || isNaN(parseFloat(v)) ? otherwise : parseFloat(v);
    }
    return {agent: code("agent"), task: code("task"), domain: code("domain"), split: code("split"), unseen: code("unseen"),
            min: bound("min", -Infinity), max: bound("max", Infinity)};
  }

  function applyFilters(keepPage) {
    var f = readFilters(), out = new Int32Array(INDEX.loaded), k = 0;
    for (var g = 0; g < INDEX.loaded; g++) {
      if ((f.agent < 0 || INDEX.agent[g] === f.agent) && (f.task < 0 || INDEX.task[g] === f.task) &&
          (f.domain < 0 || INDEX.domain[g] === f.domain) && (f.split < 0 || INDEX.split[g] === f.split) &&
          (f.unseen < 0 || INDEX.unseen[g] === f.unseen) && INDEX.score[g] >= f.min && INDEX.score[g] <= f.max) {
        out[k++] = g;
      }
    }
    MATCHES = out.subarray(0, k);
    var pages = Math.max(1, Math.ceil(k / PAGE));
    PAGE_AT = keepPage === true ? Math.min(PAGE_AT, pages - 1) : 0;
    renderList();
  }

  function indexProgress(finished) {
    var status = document.getElementById("episode-status");
    var text = INDEX.failed ? INDEX.failed + " could not be loaded; it belongs beside index.html. " : "";
    if (EP.count === 0) text += "No episodes.";
    else if (!finished) text += "Loading the episodes: " + INDEX.loaded.toLocaleString("en-US") + " of " + EP.count.toLocaleString("en-US") + "\u2026";
    status.textContent = text;
    status.dataset.loaded = finished ? "all" : "some";
    applyFilters(true);
    if (finished && chartsDrawn) drawCharts();
  }

  function renderList() {
    var root = clear(document.getElementById("episode-list"));
    var k = MATCHES.length, pages = Math.max(1, Math.ceil(k / PAGE));
    var info = el("p", "muted", k.toLocaleString("en-US") + " matching episodes" +
      (INDEX.loaded < EP.count ? " (of the " + INDEX.loaded.toLocaleString("en-US") + " loaded so far)" : ""));
    info.id = "episode-count";
    root.appendChild(info);
    if (!k) return;
    var table = el("table", "data episodes"), body = el("tbody");
    table.id = "episode-table";
    var head = el("tr");
    ["", "agent", "environment", "domain", "split", "systems", "sample", "reward", "turns"].forEach(function (h) {
      head.appendChild(el("th", ["sample", "reward", "turns"].indexOf(h) >= 0 ? "num" : null, h));
    });
    table.appendChild(el("thead", null, head));
    for (var n = PAGE_AT * PAGE; n < Math.min(k, (PAGE_AT + 1) * PAGE); n++) body.appendChild(episodeRow(MATCHES[n]));
    table.appendChild(body);
    root.appendChild(el("div", "table-wrap", table));
    var pager = el("div", "pager");
    var prev = button("\u2190 previous", "page-prev", function () { PAGE_AT--; renderList(); });
    var next = button("next \u2192", "page-next", function () { PAGE_AT++; renderList(); });
    prev.disabled = PAGE_AT <= 0;
    next.disabled = PAGE_AT >= pages - 1;
    pager.appendChild(prev);
    pager.appendChild(el("span", "muted", " page " + (PAGE_AT + 1) + " of " + pages + " "));
    pager.appendChild(next);
    root.appendChild(pager);
  }

  function episodeRow(g) {
    var tr = el("tr", g === OPEN ? "clickable open" : "clickable");
    var open = button("open", "open-episode", function () { openEpisode(g); });
    tr.appendChild(el("td", null, open));
    tr.appendChild(el("td", null, [swatch(INDEX.agent[g]), EP.agents[INDEX.agent[g]]]));
    tr.appendChild(el("td", null, EP.columns[INDEX.task[g]]));
    tr.appendChild(el("td", null, EP.domains[INDEX.domain[g]]));
    tr.appendChild(el("td", null, EP.splits[INDEX.split[g]]));
    tr.appendChild(el("td", null, INDEX.unseen[g] ? "unseen" : "seen"));
    tr.appendChild(el("td", "num", String(INDEX.sample[g])));
    tr.appendChild(el("td", "num", fixed(INDEX.score[g])));
    tr.appendChild(el("td", "num", String(INDEX.turns[g])));
    tr.addEventListener("click", function (e) { if (e.target !== open) openEpisode(g); });
    return tr;
  }

  // The same sample played by other agents (for side by side).
  var SAME = null, SAME_AT = 0;
  function sameSample(g) {
    if (!SAME || SAME_AT !== INDEX.loaded) {
      SAME = new Map();
      for (var h = 0; h < INDEX.loaded; h++) {
        var key = INDEX.task[h] + "/" + INDEX.split[h] + "/" + INDEX.sample[h];
        var list = SAME.get(key);
        if (list) list.push(h); else SAME.set(key, [h]);
      }
      SAME_AT = INDEX.loaded;
    }
    return (SAME.get(INDEX.task[g] + "/" + INDEX.split[g] + "/" + INDEX.sample[g]) || []).filter(function (h) { return h !== g; });
  }

  function openEpisode(g, other) {
    OPEN = g;
    renderList();
    var root = clear(document.getElementById("episode-detail"));
    root.appendChild(el("p", "muted", "Loading the episode\u2026"));
    withEpisode(g, function (record, error) {
      if (OPEN !== g) return;
      clear(root);
      var bar = el("div", "detail-bar");
      bar.appendChild(el("h2", null, "Episode"));
      var others = sameSample(g);
      if (others.length) {
        var s = el("select", null);
        s.id = "compare";
        [[-1, "nobody"]].concat(others.map(function (h) { return [h, EP.agents[INDEX.agent[h]]]; })).forEach(function (o) {
          var opt = el("option", null, o[1]); opt.value = String(o[0]); s.appendChild(opt);
        });
        if (other !== undefined) s.value = String(other);
        s.addEventListener("change", function () { var h = parseInt(s.value, 10); openEpisode(g, h >= 0 ? h : undefined); });
        bar.appendChild(el("label", "compare", ["side by side with ", s]));
      }
      bar.appendChild(button("close", "close-episode", function () { OPEN = -1; clear(root); renderList(); }));
      root.appendChild(bar);
      var grid = el("div", other !== undefined ? "side-by-side" : "single");
      root.appendChild(grid);
      grid.appendChild(record ? episodeCard(record, g) : el("p", "error", error));
      if (other !== undefined) {
        var slot = el("div", null, el("p", "muted", "Loading\u2026"));
        grid.appendChild(slot);
        withEpisode(other, function (second, error2) {
          clear(slot);
          slot.appendChild(second ? episodeCard(second, other) : el("p", "error", error2));
        });
      }
      root.scrollIntoView({block: "start"});
    });
  }

  // An answer with its think and answer parts marked (text only; the tags shown as text too).
  function marked(text, cls) {
    var pre = el("pre", "text marked " + (cls || ""));
    text = text === null || text === undefined ? "" : String(text);
    var tag = /<(\/?)(think|answer)>/g, last = 0, open = null, m;
    function part(t) { if (t) pre.appendChild(el("span", open ? "part-" + open : "part-other", t)); }
    while ((m = tag.exec(text)) !== null) {
      part(text.slice(last, m.index));
      pre.appendChild(el("span", "tag", m[0]));
      if (m[1]) { if (open === m[2]) open = null; } else open = m[2];
      last = tag.lastIndex;
    }
    part(text.slice(last));
    if (!text) pre.appendChild(el("span", "muted", "(empty)"));
    return pre;
  }
  function plain(text, cls) {
    return el("pre", "text " + (cls || ""), text === null || text === undefined ? "(none)" : String(text));
  }
  function json(value) { try { return JSON.stringify(value, null, 1); } catch (e) { return String(value); } }

  function keyValues(pairs, cls) {
    var dl = el("dl", "kv " + (cls || ""));
    pairs.forEach(function (p) {
      if (p[1] === undefined || p[1] === null || p[1] === "") return;
      dl.appendChild(el("dt", null, p[0]));
      dl.appendChild(el("dd", null, value(p[1])));
    });
    return dl;
  }
  function value(v) {
    if (typeof v === "number") return Number.isInteger(v) ? String(v) : metricText(v);
    if (typeof v === "boolean") return String(v);
    if (typeof v === "object" && !v.nodeType) return json(v);
    return v;
  }
  function seconds(v) { return typeof v === "number" ? String(Number(v.toPrecision(3))) + " s" : v; }
  function flatten(obj, prefix, out) {
    Object.keys(obj || {}).forEach(function (k) {
      var v = obj[k];
      if (v && typeof v === "object" && !Array.isArray(v)) flatten(v, prefix + k + ".", out);
      else out.push([prefix + k, typeof v === "boolean" ? String(v) : v]);
    });
    return out;
  }
  function section(title, body, cls) {
    return el("section", "part " + (cls || ""), [el("h4", null, title), body]);
  }

  function episodeCard(r, g) {
    var card = el("article", "episode");
    card.dataset.episode = String(g);
    var score = r["return"] !== undefined ? r["return"] : (r.reward || {}).total;
    card.appendChild(el("h3", null, [swatch(INDEX.agent[g]), el("span", "agent-name", r.agent), " \u00b7 ",
                                     EP.columns[INDEX.task[g]], " #" + r.index]));
    var meta = keyValues([["environment", r.env], ["sample", r.id], ["source / split", r.source + " / " + r.split],
      ["domain", r.domain], ["systems", r.unseen ? "unseen" : "seen"], ["fault category", r.category],
      ["format", r.reasoning], ["agent's time", seconds(r.latency_s)], ["environment's time", seconds(r.env_s)],
      ["finish reason", r.finish_reason], ["error", r.error]], "meta");
    var rewards = [];
    if (r["return"] !== undefined) rewards.push(["return", fixed(r["return"])]);
    Object.keys(r.reward || {}).forEach(function (k) {
      rewards.push([k === "total" && r["return"] !== undefined ? "last step" : k, typeof r.reward[k] === "number" ? fixed(r.reward[k]) : r.reward[k]]);
    });
    var head = el("div", "score", [el("span", "big", fixed(score)), el("span", "muted", r["return"] !== undefined ? " return" : " reward")]);
    card.appendChild(el("div", "facts", [
      section("Episode", meta, "about"),
      section("Reward", [head, keyValues(rewards, "reward-parts")], "rewards"),
      section("Metrics", keyValues(flatten(r.metrics, "", [])), "metrics")]));
    if (r.turns && r.turns.length) {
      card.appendChild(section("Transcript, turn by turn", transcript(r.turns), "transcript"));
    } else {
      card.appendChild(section("Answer (think and answer parts marked)", marked(r.answer, "answer-text"), "answer"));
    }
    card.appendChild(section("Answer the reward scored", plain(r.parsed_answer, "parsed"), "parsed"));
    card.appendChild(section("Reference", plain(r.reference, "reference"), "reference"));
    var prompt = el("details", "prompt");
    prompt.appendChild(el("summary", null, "Prompt (" + String(r.observation || "").length.toLocaleString("en-US") + " characters)"));
    prompt.appendChild(plain(r.observation, "prompt-text"));
    card.appendChild(el("section", "part", prompt));
    return card;
  }

  function transcript(turns) {
    var list = el("ol", "turns");
    turns.forEach(function (t, k) {
      var item = el("li", "turn");
      item.appendChild(el("div", "turn-head", [el("strong", null, "turn " + (k + 1)), el("span", "muted", " step reward " + fixed(t.reward)),
        t.usage ? el("span", "muted", " \u00b7 tokens " + json(t.usage)) : null]));
      item.appendChild(marked(t.completion, "completion"));
      var calls = t.tool_calls || [], outputs = t.tool_outputs || [];
      for (var j = 0; j < Math.max(calls.length, outputs.length); j++) {
        var call = calls[j], box = el("div", "tool");
        if (call !== undefined) {
          var name = call && typeof call === "object" && "name" in call ? String(call.name) : "call";
          var args = call && typeof call === "object" && "arguments" in call ? json(call.arguments) : json(call);
          box.appendChild(el("div", "tool-call", [el("span", "tool-name", name), el("code", null, args)]));
        }
        if (outputs[j] !== undefined) box.appendChild(plain(outputs[j], "tool-output"));
        item.appendChild(box);
      }
      list.appendChild(item);
    });
    return list;
  }

  // -- the page -----------------------------------------------------------------------------------
  var VIEWS = ["overview", "charts", "episodes"];
  function show(view) {
    if (VIEWS.indexOf(view) < 0) view = "overview";
    VIEWS.forEach(function (v) { document.getElementById("view-" + v).hidden = v !== view; });
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.view === view ? "true" : "false");
    });
    if (view === "charts" && !chartsDrawn) drawCharts();
    if (location.hash !== "#" + view) history.replaceState(null, "", "#" + view);
  }

  document.title = DATA.title;
  document.getElementById("title").textContent = DATA.title;
  var agents = BOARD.rows.length, envs = TASKS.length;
  document.getElementById("subtitle").textContent = EP.count.toLocaleString("en-US") + " episodes \u00b7 " + agents +
    (agents === 1 ? " agent" : " agents") + " \u00b7 " + envs + (envs === 1 ? " environment" : " environments") +
    (DATA.runs.length ? " \u00b7 runs: " + DATA.runs.join(", ") : "") + " \u00b7 " + DATA.generator;
  Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) {
    tab.addEventListener("click", function () { show(tab.dataset.view); });
  });
  drawOverview(document.getElementById("view-overview"));
  buildFilters();
  show(location.hash.slice(1));
  document.body.dataset.ready = "overview";
  // The overview is drawn; the episodes' summaries load after it, one file at a time.
  setTimeout(function () { loadIndex(0); }, 0);
})();
