/* alloybench report: sortable tables, row filter, Vega-Lite figures, page-wide model toggles.
   Nothing is fetched: the figures' data is the JSON in <script id="ab-data">. */
(function () {
  "use strict";
  var root = document.documentElement;

  function key(td) {
    var v = td.getAttribute("data-sort");
    if (v === null) { v = td.textContent.trim(); }
    if (v === "" || v === "\u2013") { return null; }
    var f = Number(v);
    return isFinite(f) && /^[-+]?[0-9.]+(e[-+]?[0-9]+)?$/i.test(v) ? f : v.toLowerCase();
  }
  function sortBy(table, col, th) {
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (c) { c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col]), kb = key(b.cells[col]);
      if (ka === null && kb === null) { return 0; }
      if (ka === null) { return 1; }
      if (kb === null) { return -1; }
      if (typeof ka === typeof kb) { return (ka < kb ? -1 : ka > kb ? 1 : 0) * sign; }
      return typeof ka === "number" ? -1 : 1;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead) { return; }
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      if (th.classList.contains("nosort")) { return; }
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, col, th); });
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sortBy(table, col, th); } });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (box) {
    var table = document.getElementById(box.getAttribute("data-table"));
    box.addEventListener("input", function () {
      var q = box.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.style.display = !q || r.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
  });

  var holder = document.getElementById("ab-data");
  var targets = document.querySelectorAll("div.vega[data-chart]");
  if (!holder || !targets.length || typeof window.vegaEmbed !== "function") {
    root.setAttribute("data-ready", "1");
    return;
  }
  var data = JSON.parse(holder.textContent);
  var table = data.rows;
  var cache = {};
  function expand(r) {  /* the same object as alloybench.report.figures.Rows.expand */
    if (cache[r]) { return cache[r]; }
    var row = table.rows[r], k = table.keys[row[1]], v = row[2], ref = k[5];
    cache[r] = {model: table.models[row[0]], task: k[0], item: k[1], quantity: k[2], group: k[3], unit: k[4],
                value: v, reference: ref, error: (v === null || ref === null) ? null : v - ref,
                status: table.status[row[3]], series: k[6], x: k[7], kind: "model"};
    return cache[r];
  }
  var charts = {};
  data.charts.forEach(function (c) { charts[c.id] = c; });
  var views = {};
  var hidden = [];
  window.alloybench = {views: views, hidden: function () { return hidden.slice(); }, setHidden: setHidden};

  function setHidden(names) {
    hidden = names.slice();
    var runs = Object.keys(views).map(function (id) {
      var view = views[id];
      try { view.signal("hidden", hidden); } catch (e) { return Promise.resolve(); }
      return view.runAsync();
    });
    return Promise.all(runs);
  }
  var toggles = document.getElementById("model-toggles");
  if (toggles) {
    toggles.addEventListener("change", function () {
      var off = [];
      Array.prototype.forEach.call(toggles.querySelectorAll("input[type=checkbox]"), function (box) {
        if (!box.checked) { off.push(box.getAttribute("data-name")); }
      });
      setHidden(off);
    });
    Array.prototype.forEach.call(toggles.querySelectorAll("button[data-all]"), function (b) {
      b.addEventListener("click", function () {
        var on = b.getAttribute("data-all") === "1";
        Array.prototype.forEach.call(toggles.querySelectorAll("input[type=checkbox]"), function (box) { box.checked = on; });
        setHidden(on ? [] : data.rows.models.slice());
      });
    });
  }
  var pending = Array.prototype.map.call(targets, function (el) {
    var c = charts[el.getAttribute("data-chart")];
    if (!c) { return Promise.resolve(); }
    var rows = c.rows.map(expand).concat(c.extra);
    var spec = Object.assign({}, c.spec, {datasets: {rows: rows}});
    return window.vegaEmbed(el, spec, {mode: "vega-lite", renderer: "svg", actions: false,
                                          logLevel: window.vega ? window.vega.Error : 1}  /* an empty DFT layer in a panel warns */)
      .then(function (res) { views[c.id] = res.view; el.setAttribute("data-rendered", "1"); })
      .catch(function (err) { el.textContent = "figure failed: " + err; console.error(err); });
  });
  Promise.all(pending).then(function () { root.setAttribute("data-ready", "1"); });
})();
