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

  // Confirmations and small forms in <details class="popover"> work without script; with it,
  // only one is open at a time, Escape or a click elsewhere closes it, and one opened in a
  // table's last rows makes room below instead of hiding inside the table's scrolling box.
  // The handlers sit on the document, so popovers in rows the page refreshes behave the same.
  var openPopovers = function () {
    return Array.prototype.slice.call(document.querySelectorAll("details.popover[open]"));
  };
  var makeRoom = function (details) {
    var wrap = details.closest(".table-wrap");
    if (!wrap) {
      return;
    }
    wrap.style.paddingBottom = "";
    var panel = wrap.querySelector("details.popover[open] > .popover-panel");
    var overflow = panel ? panel.getBoundingClientRect().bottom - wrap.getBoundingClientRect().bottom : 0;
    if (overflow > 0) {
      wrap.style.paddingBottom = Math.ceil(overflow) + 16 + "px";
    }
  };
  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (!(details instanceof HTMLDetailsElement) || !details.classList.contains("popover")) {
        return;
      }
      makeRoom(details);
      if (!details.open) {
        return;
      }
      openPopovers().forEach(function (other) {
        if (other !== details) {
          other.open = false;
        }
      });
      var input = details.querySelector("input[type='text']");
      if (input) {
        input.focus();
        input.select();
      }
    },
    true // toggle doesn't bubble: listen as it goes down
  );
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") {
      return;
    }
    openPopovers().forEach(function (details) {
      details.open = false;
      details.querySelector("summary").focus();
    });
  });
  document.addEventListener("click", function (event) {
    openPopovers().forEach(function (details) {
      if (!details.contains(event.target)) {
        details.open = false;
      }
    });
  });

  // Rows still changing on the server (a file being checked, its streaming versions being made) follow
  // it: every few seconds the page is fetched again and those rows take their new state, until none
  // is left changing. A cell with an open confirmation or the keyboard's focus waits for the next
  // round; a row the page no longer lists stops being followed; errors back off, then it stops.
  var liveRows = function (root) {
    return Array.prototype.slice.call(root.querySelectorAll("tr[data-live-row][id]"));
  };
  if (liveRows(document).length && window.fetch && window.DOMParser) {
    var failures = 0;
    var follow = function () {
      fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (answer) {
          return answer.ok && !answer.redirected ? answer.text() : Promise.reject(answer.status);
        })
        .then(function (html) {
          failures = 0;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          liveRows(document).forEach(function (row) {
            var now = fresh.getElementById(row.id);
            if (!now) {
              row.removeAttribute("data-live-row");
              return;
            }
            // Cell by cell, leaving alone one with an open confirmation or the keyboard's focus.
            Array.prototype.forEach.call(row.cells, function (cell, index) {
              var fresh = now.cells[index];
              var busy = cell.querySelector("details[open]") || cell.contains(document.activeElement);
              if (fresh && !busy && cell.innerHTML !== fresh.innerHTML) {
                cell.innerHTML = fresh.innerHTML;
              }
            });
            if (!now.hasAttribute("data-live-row")) {
              row.removeAttribute("data-live-row");
            }
          });
          if (liveRows(document).length) {
            window.setTimeout(follow, 3000);
          }
        })
        .catch(function () {
          failures += 1;
          if (failures < 6) {
            window.setTimeout(follow, 3000 * Math.pow(2, failures));
          }
        });
    };
    window.setTimeout(follow, 3000);
  }
})();
