// The simulator's keypad without a round trip per key: a key is added to the input box;
// a call (IVR) sends by itself on # or when the menu's number of keys is reached, as a phone
// line does. Without this script each key is a form post and the server does the same.
(function () {
  var form = document.getElementById("sim-keys");
  if (!form) { return; }
  var input = document.getElementById("sim-input");
  var ivr = form.getAttribute("data-channel") === "ivr";
  var max = parseInt(form.getAttribute("data-max"), 10) || 0;
  form.querySelectorAll("button.key").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var key = button.value;
      input.value += key;
      if (ivr && (key === "#" || (max > 0 && input.value.length >= max))) { form.submit(); }
    });
  });
})();
