// Enhancement only: every page works without it. A form is sent once (no double booking by a
// second tap); a cancel asks first.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = form.querySelector("button[data-confirm]");
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
    return;
  }
  if (form.classList.contains("once")) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
  }
});
