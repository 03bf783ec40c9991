// Staff calendar: clicking an empty time in a column opens the booking panel for that
// staff member (or room) and time. (Keyboard users: the "New appointment" button opens the
// same form.)
(function () {
  "use strict";
  function onClick(event) {
    var column = event.target.closest(".cal-col");
    if (!column || !column.dataset.new) return;
    if (event.target.closest(".appt")) return; // an appointment opens itself
    var rows = parseInt(column.dataset.rows, 10);
    var rect = column.getBoundingClientRect();
    var row = Math.floor(((event.clientY - rect.top) / rect.height) * rows);
    var minute = parseInt(column.dataset.first, 10) + Math.max(0, row) * 15;
    var params = new URLSearchParams({ date: column.dataset.date, minute: String(minute) });
    if (column.dataset.staff) params.set("staff", column.dataset.staff);
    if (column.dataset.room) params.set("room", column.dataset.room);
    var url = column.dataset.new + "?" + params.toString();
    if (window.htmx) {
      window.htmx.ajax("GET", url, { target: "#panel" });
    } else {
      window.location.href = url;
    }
  }
  document.addEventListener("click", onClick);
})();
