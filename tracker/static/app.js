// Tracker pages: copy buttons, and the redirect rules editor (at the end). Served as a static file (the
// Content-Security-Policy forbids inline scripts).
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

// The redirect rules editor on a link's page (tracker/templates/pages/_rules.html). The form works without this
// script (position numbers, "Remove this rule", one blank rule); with it, "Add a rule" appends a blank rule and
// "Move up" / "Move down" reorder them, keeping the position numbers in step.
(function () {
  "use strict";

  var form = document.getElementById("rules-form");
  if (!form) {
    return;
  }
  var rows = document.getElementById("rule-rows");
  var template = document.getElementById("rule-template");
  var add = document.getElementById("add-rule");

  function renumber() {
    var all = rows.querySelectorAll("[data-rule-row]");
    for (var i = 0; i < all.length; i++) {
      var position = all[i].querySelector("input[name$='-position']");
      if (position) {
        position.value = String(i + 1);
      }
      var number = all[i].querySelector("[data-rule-number]");
      if (number) {
        number.textContent = String(i + 1);
      }
    }
  }

  function nextId() {
    var highest = -1;
    var all = rows.querySelectorAll("[data-rule-row]");
    for (var i = 0; i < all.length; i++) {
      highest = Math.max(highest, parseInt(all[i].getAttribute("data-rule-row"), 10) || 0);
    }
    return highest + 1;
  }

  function reveal(scope) {
    var hidden = scope.querySelectorAll(".rule-move[hidden]");
    for (var i = 0; i < hidden.length; i++) {
      hidden[i].hidden = false;
    }
  }

  add.hidden = false;
  reveal(rows);
  add.addEventListener("click", function () {
    var html = template.innerHTML.replace(/__ROW__/g, String(nextId()));
    rows.insertAdjacentHTML("beforeend", html);
    var added = rows.lastElementChild;
    reveal(added);
    renumber();
    var first = added.querySelector("input[type='checkbox'], input[type='text']");
    if (first) {
      first.focus();
    }
  });

  form.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-rule-move]") : null;
    if (!button) {
      return;
    }
    var row = button.closest("[data-rule-row]");
    if (button.getAttribute("data-rule-move") === "up" && row.previousElementSibling) {
      rows.insertBefore(row, row.previousElementSibling);
    } else if (button.getAttribute("data-rule-move") === "down" && row.nextElementSibling) {
      rows.insertBefore(row.nextElementSibling, row);
    }
    renumber();
    button.focus();
  });
}());
