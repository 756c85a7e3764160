/* The IB admin: accessibility fixes for widgets Django's admin builds in the browser
   (loaded on every admin page through templates/admin/base_site.html). */
(function () {
  "use strict";

  // SelectFilter2 (a "filter_horizontal" choice, as on a user's groups and permissions)
  // puts an aria-label on a bare <span>, which ARIA does not allow (axe
  // aria-prohibited-attr): it is an icon, so it gets that role. SelectFilter2 builds the
  // widget on "load", so this runs just after.
  function nameFilterIcons() {
    document
      .querySelectorAll(".help-tooltip.search-label-icon[aria-label]:not([role])")
      .forEach(function (icon) {
        icon.setAttribute("role", "img");
      });
  }

  // A search-as-you-type choice (select2, Django's "autocomplete_fields") shows what was
  // chosen in a read-only textbox that has no name while nothing is chosen (axe
  // aria-input-field-name): it gets the name of the field's label. select2 builds these
  // when the page loads and for each new row of a sub-table, so new ones are watched for.
  function nameChoiceBoxes(root) {
    root.querySelectorAll(".select2-selection__rendered[role='textbox']:not([aria-label])")
      .forEach(function (box) {
        var match = /^select2-(.+)-container$/.exec(box.id || "");
        var label = match && document.querySelector("label[for='" + match[1] + "']");
        if (label) {
          box.setAttribute("aria-label", label.textContent.replace(/:\s*$/, "").trim());
        }
      });
  }

  window.addEventListener("load", function () {
    window.setTimeout(nameFilterIcons, 0);
  });
  document.addEventListener("DOMContentLoaded", function () {
    nameChoiceBoxes(document);
    new MutationObserver(function () {
      nameChoiceBoxes(document);
    }).observe(document.body, { childList: true, subtree: true });
  });
})();
