// Sortable and filterable tables: click a header to sort (numbers by data-v), type to filter rows.
document.querySelectorAll("table.sortable").forEach(function (table) {
  var body = table.tBodies[0];
  table.querySelectorAll("th").forEach(function (th, col) {
    th.addEventListener("click", function () {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th").forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var key = function (row) {
        var cell = row.cells[col], v = cell.getAttribute("data-v");
        return v === null ? cell.textContent.trim().toLowerCase() : (v === "" ? null : parseFloat(v));
      };
      Array.from(body.rows).map(function (r) { return [key(r), r]; }).sort(function (a, b) {
        if (a[0] === b[0]) return 0; if (a[0] === null) return 1; if (b[0] === null) return -1;
        return (a[0] < b[0] ? -1 : 1) * (asc ? 1 : -1);
      }).forEach(function (pair) { body.appendChild(pair[1]); });
    });
  });
});
document.querySelectorAll("input[data-filter]").forEach(function (input) {
  var table = document.getElementById(input.getAttribute("data-filter")), count = document.getElementById(input.getAttribute("data-count"));
  input.addEventListener("input", function () {
    var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
    Array.from(table.tBodies[0].rows).forEach(function (row) {
      var text = row.textContent.toLowerCase(), ok = terms.every(function (t) { return text.indexOf(t) >= 0; });
      row.style.display = ok ? "" : "none"; if (ok) shown++;
    });
    if (count) count.textContent = shown;
  });
});
