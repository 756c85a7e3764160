// Sends the signed AuthnRequest on to eHerkenning without an extra click. Without
// JavaScript the page shows the button that does the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-msd-autosubmit]");
  if (form) {
    form.submit();
  }
})();
