/* Small conveniences on top of pages that work without JavaScript. */
(function () {
  "use strict";

  // The phone menu is a CSS checkbox toggle; let Escape close it.
  var toggle = document.getElementById("nav-toggle");
  if (toggle) {
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.checked) {
        toggle.checked = false;
        toggle.focus();
      }
    });
  }

  // On sign-up, suggest the browser's own time zone while the field is untouched.
  var zoneSelect = document.querySelector(".tz-field select");
  if (zoneSelect && zoneSelect.value === "UTC" && !zoneSelect.closest(".field-error") && window.Intl) {
    var zone;
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      zone = null;
    }
    if (zone && zone !== "UTC") {
      for (var i = 0; i < zoneSelect.options.length; i += 1) {
        if (zoneSelect.options[i].value === zone) {
          zoneSelect.value = zone;
          break;
        }
      }
    }
  }
})();
