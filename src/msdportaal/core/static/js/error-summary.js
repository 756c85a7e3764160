/* After a failed submit the error summary takes the focus, so keyboard and screen-reader
   users start at the list of problems (GOV.UK error summary). Without JavaScript the
   summary is still the first thing in the form and announced as an alert. */
(function () {
  "use strict";

  function focusSummary() {
    const summary = document.querySelector(".msd-error-summary");
    if (summary) {
      summary.focus();
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focusSummary);
  } else {
    focusSummary();
  }
  // A URL with a fragment (#periode-…) is scrolled to after that, which takes the focus
  // away again in Chromium: focus once more when the page has loaded.
  // Only if nothing else has the focus by then (the user may have moved on already).
  window.addEventListener("load", function () {
    if (!document.activeElement || document.activeElement === document.body) {
      focusSummary();
    }
  });
})();
