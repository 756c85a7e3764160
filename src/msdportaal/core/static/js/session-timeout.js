/*
 * MSD Portaal — session-timeout warning.
 *
 * base.html renders, for a logged-in user, an element with [data-msd-session-timeout]
 * holding the settings in data- attributes (no inline script: strict CSP) and a
 * closed <dialog>. This script:
 *   - shows the dialog (focus moves into it) `data-warning-seconds` before the
 *     session expires, with a live countdown;
 *   - "Ingelogd blijven" (or Escape) POSTs to `data-keepalive-url` with the CSRF
 *     token and restarts the countdown;
 *   - when the time is up, reloads the page: the server then sends the user to
 *     the login page.
 * Without JavaScript nothing changes: the session simply expires on the server.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-msd-session-timeout]");
  if (!root || typeof window.fetch !== "function") {
    return;
  }

  var timeoutSeconds = parseInt(root.getAttribute("data-timeout-seconds"), 10);
  var warningSeconds = parseInt(root.getAttribute("data-warning-seconds"), 10) || 120;
  var keepaliveUrl = root.getAttribute("data-keepalive-url");
  if (!timeoutSeconds || timeoutSeconds <= 0 || !keepaliveUrl) {
    return;
  }

  var dialog = root.querySelector("dialog");
  var keepaliveButton = root.querySelector("[data-msd-session-keepalive]");
  var remainingEl = root.querySelector("[data-msd-session-remaining]");
  var errorEl = root.querySelector("[data-msd-session-error]");
  var text = {
    minutes: root.getAttribute("data-text-minutes") || "minuten",
    minute: root.getAttribute("data-text-minute") || "minuut",
    seconds: root.getAttribute("data-text-seconds") || "seconden",
    second: root.getAttribute("data-text-second") || "seconde"
  };

  var deadline = 0; // ms timestamp when the server-side session expires
  var tick = null;
  var open = false;
  var busy = false;
  var returnFocusTo = null;

  function csrfToken() {
    var fromAttribute = root.getAttribute("data-csrf-token");
    if (fromAttribute) {
      return fromAttribute;
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function describe(seconds) {
    seconds = Math.max(0, Math.ceil(seconds));
    var minutes = Math.floor(seconds / 60);
    var rest = seconds % 60;
    var parts = [];
    if (minutes > 0) {
      parts.push(minutes + " " + (minutes === 1 ? text.minute : text.minutes));
    }
    if (rest > 0 || minutes === 0) {
      parts.push(rest + " " + (rest === 1 ? text.second : text.seconds));
    }
    return parts.join(" ");
  }

  function showDialog() {
    if (open) {
      return;
    }
    open = true;
    returnFocusTo = document.activeElement;
    if (errorEl) {
      errorEl.hidden = true;
    }
    if (typeof dialog.showModal === "function") {
      dialog.showModal();
    } else {
      dialog.classList.add("msd-dialog--fallback");
      dialog.setAttribute("open", "");
    }
    keepaliveButton.focus();
  }

  function closeDialog() {
    if (!open) {
      return;
    }
    open = false;
    if (typeof dialog.close === "function" && dialog.open) {
      dialog.close();
    } else {
      dialog.removeAttribute("open");
    }
    if (returnFocusTo && typeof returnFocusTo.focus === "function" && document.contains(returnFocusTo)) {
      returnFocusTo.focus();
    }
    returnFocusTo = null;
  }

  function expire() {
    window.clearInterval(tick);
    tick = null;
    window.location.reload();
  }

  function check() {
    var left = (deadline - Date.now()) / 1000;
    if (left <= 0) {
      expire();
      return;
    }
    if (left <= warningSeconds) {
      if (remainingEl) {
        // Round to whole seconds; role="timer" keeps screen readers from announcing each tick.
        remainingEl.textContent = describe(left);
      }
      showDialog();
    }
  }

  function start() {
    deadline = Date.now() + timeoutSeconds * 1000;
    if (tick === null) {
      // A one-second poll (not one long timeout) stays right when the tab was asleep.
      tick = window.setInterval(check, 1000);
    }
    check();
  }

  function keepAlive() {
    if (busy) {
      return;
    }
    busy = true;
    keepaliveButton.setAttribute("aria-disabled", "true");
    window
      .fetch(keepaliveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "X-CSRFToken": csrfToken(),
          "X-Requested-With": "XMLHttpRequest"
        }
      })
      .then(function (response) {
        if (response.status === 401 || response.status === 403 || response.redirected) {
          // The session is already gone: let the server show the login page.
          expire();
          return;
        }
        if (!response.ok) {
          throw new Error("keepalive failed: " + response.status);
        }
        closeDialog();
        start();
      })
      .catch(function () {
        if (errorEl) {
          errorEl.hidden = false;
        }
        keepaliveButton.focus();
      })
      .then(function () {
        busy = false;
        keepaliveButton.removeAttribute("aria-disabled");
      });
  }

  keepaliveButton.addEventListener("click", keepAlive);

  // Escape closes the dialog; treat it as "Ingelogd blijven" so nobody is logged out by accident.
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    keepAlive();
  });

  // Closed some other way (e.g. a second Escape that the browser will not let us cancel).
  dialog.addEventListener("close", function () {
    if (open) {
      open = false;
      keepAlive();
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible" && tick !== null) {
      check();
    }
  });

  start();
})();
