/* Live sessions: when a session's join window opens while the page is open, reload it so the
 * join button appears (the server decides; nothing is revealed here). The delay comes from the
 * server in seconds, so a wrong clock on this device doesn't matter.
 */
(function () {
  "use strict";

  var MAX_WAIT_SECONDS = 12 * 60 * 60; // beyond that, no point keeping a timer running
  var soonest = null;
  var marks = document.querySelectorAll("[data-join-opens-in]");
  for (var i = 0; i < marks.length; i += 1) {
    var seconds = parseInt(marks[i].dataset.joinOpensIn, 10);
    if (seconds > 0 && seconds <= MAX_WAIT_SECONDS && (soonest === null || seconds < soonest)) {
      soonest = seconds;
    }
  }
  if (soonest !== null) {
    window.setTimeout(function () {
      window.location.reload();
    }, (soonest + 2) * 1000);
  }
})();
