// Tracker pages: copy buttons. Served as a static file (the Content-Security-Policy forbids inline scripts).
// A button with data-copy="<input id>" copies that input's value with the Clipboard API; where the API
// is missing or refused (plain http on a non-local host, old browsers) the text is selected instead so
// Ctrl+C / long-press copies it.
(function () {
  "use strict";

  function announce(message) {
    var status = document.getElementById("copy-status");
    if (status) {
      status.textContent = message;
    }
  }

  function selectText(input) {
    input.focus();
    input.select();
    input.setSelectionRange(0, input.value.length);
  }

  function flash(button, text) {
    var original = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", original);
    button.textContent = text;
    button.classList.add("copied");
    window.clearTimeout(button._copyTimer);
    button._copyTimer = window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("copied");
    }, 2000);
  }

  function fallback(button, input) {
    selectText(input);
    var copied = false;
    try {
      copied = document.execCommand && document.execCommand("copy");
    } catch (err) {
      copied = false;
    }
    if (copied) {
      flash(button, "Copied");
      announce("Copied to the clipboard.");
    } else {
      announce("Selected: press Ctrl+C (or \u2318C) to copy.");
    }
  }

  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) {
      return;
    }
    var text = input.value;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        flash(button, "Copied");
        announce("Copied to the clipboard.");
      }, function () {
        fallback(button, input);
      });
    } else {
      fallback(button, input);
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-copy]") : null;
    if (button) {
      event.preventDefault();
      copy(button);
    }
  });

  // Clicking into a read-only URL box selects all of it: one tap, then the system's copy.
  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target && target.matches && target.matches(".copy-row input[readonly]")) {
      window.setTimeout(function () { selectText(target); }, 0);
    }
  });
}());
