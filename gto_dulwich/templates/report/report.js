(function () {
  "use strict";
  // Sort any table.sortable by a header click; search and count on the index.
  // The filters are CSS (they work with JavaScript off); this only adds to them.
  function key(cell) {
    var v = cell ? cell.getAttribute("data-sort") : null;
    return v !== null ? v : (cell ? cell.textContent.trim() : "");
  }
  function compare(a, b) {
    var na = Number(a), nb = Number(b);
    if (a !== "" && b !== "" && !isNaN(na) && !isNaN(nb)) { return na - nb; }
    return a.localeCompare(b, undefined, {numeric: true, sensitivity: "base"});
  }
  function sortable(table) {
    var heads = table.tHead ? table.tHead.rows[0].cells : [];
    Array.prototype.forEach.call(heads, function (th, index) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "sort";
      while (th.firstChild) { button.appendChild(th.firstChild); }
      th.appendChild(button);
      button.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var c = compare(key(r1.cells[index]), key(r2.cells[index]));
          return ascending ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), sortable);
  // A wide timeline opens on its newest end: who holds each stage now.
  Array.prototype.forEach.call(document.querySelectorAll(".tl"), function (box) {
    box.scrollLeft = box.scrollWidth;
  });

  var table = document.getElementById("artifacts");
  var search = document.getElementById("search");
  var count = document.getElementById("count");
  if (!table || !search || !count) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  function update() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    rows.forEach(function (row, i) {
      row.hidden = !words.every(function (w) { return texts[i].indexOf(w) !== -1; });
    });
    var shown = rows.filter(function (row) { return row.getClientRects().length > 0; }).length;
    count.textContent = shown + " of " + rows.length + " artifacts shown";
  }
  document.getElementById("search-box").hidden = false;
  search.addEventListener("input", update);
  Array.prototype.forEach.call(document.querySelectorAll("#filters select"), function (s) {
    s.addEventListener("change", update);
  });
  update();
})();
