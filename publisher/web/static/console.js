// The console's one nicety: a form button with data-confirm asks before its form is sent.
// Pages work the same without it (no inline script: the CSP allows only files from /static).
"use strict";
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var question = button && button.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
