// Report the browser's timezone so the server shows times in it (tasks.middleware).
(function () {
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (tz && document.cookie.indexOf("tz=" + tz) === -1) {
      document.cookie = "tz=" + tz + "; path=/; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* old browser: server timezone is used */ }
})();

// A server error answering an htmx request. Every 4xx answer is a partial that swaps in place
// (base.html's htmx-config); a 5xx is not swapped, so say so where the user looks — and with
// DEBUG on (make run) show Django's error page itself, as a full page load would.
document.addEventListener("htmx:responseError", function (event) {
  var xhr = event.detail.xhr;
  if (!xhr || xhr.status < 500) return;
  if (document.body.dataset.debug === "true") {
    document.open();
    document.write(xhr.responseText);
    document.close();
    return;
  }
  var box = document.getElementById("server-error");
  if (!box) {
    box = document.createElement("p");
    box.id = "server-error";
    box.className = "flash error";
    box.setAttribute("role", "alert");
    var main = document.querySelector("main") || document.body;
    main.insertBefore(box, main.firstChild);
  }
  box.textContent = "The server could not complete that (error " + xhr.status + "). " +
    "Reload the page to see what was saved, then try again.";
});

// Bulk bar: "select all on this page" ticks the rows' checkboxes of the same form.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-bulk-all]");
  if (!all) return;
  document
    .querySelectorAll(`input[name="card"][form="${all.getAttribute("form")}"]`)
    .forEach((box) => { box.checked = all.checked; });
});

// The 30 s refreshes morph the new answer into the page (idiomorph, hx-swap="morph"): nodes
// stay, so a "Why this deadline?" the user opened stays open and a field being typed in keeps
// its text. The server never renders a <details> open, so its `open` is the user's alone.
if (window.Idiomorph) {
  Idiomorph.defaults.ignoreActiveValue = true;
  Idiomorph.defaults.callbacks.beforeAttributeUpdated = function (name, element) {
    if (name === "open" && element.localName === "details") return false;
  };
}

// Timers count down between refreshes in business time, on the card page and on the at-risk
// queue's rows alike (tasks.templatetags countdown_for): the server says how many seconds are
// left, whether the clock runs and in how many seconds that changes (closing or opening
// time); so the text ticks only while the clock runs and reads "paused until Mon 7 Dec
// 09:00" otherwise. A refresh brings a new data-stamp: count anew.
(function () {
  function duration(seconds) {
    var s = Math.abs(Math.trunc(seconds)), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h ? h + "h " + String(m).padStart(2, "0") + "m" : m + "m";
  }
  function remaining(left) {
    return left < 0 ? "overdue by " + duration(left) : duration(left) + " remaining";
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (el._stamp !== el.dataset.stamp) { el._stamp = el.dataset.stamp; el._from = now; }
      var gone = (now - el._from) / 1000;
      var left = Number(el.dataset.left);
      var change = el.dataset.changeIn === "" ? Infinity : Number(el.dataset.changeIn);
      var running = el.dataset.running === "true";
      if (running) left -= Math.min(gone, change);
      else if (gone >= change) left -= gone - change;
      var runsNow = running ? gone < change : gone >= change;
      var text = remaining(left);
      if (!runsNow) text += " · " + el.dataset.still;
      el.dataset.leftNow = String(Math.round(left));
      if (el.textContent !== text) el.textContent = text;
    });
  }
  setInterval(tick, 1000);
})();

// The bell opens a panel of the latest unread notices (sla.views.preview, loaded by htmx on
// each opening) instead of following its link; without JS, or with a modifier key, it stays
// the link to the inbox. Escape or a click elsewhere closes it. The bell is re-rendered by
// its 30 s poll and by "Mark read" (out of band), so its aria-expanded is set again after
// every swap.
(function () {
  function parts() {
    return { bell: document.getElementById("bell"), panel: document.getElementById("bell-panel") };
  }
  function sync() {
    var p = parts();
    if (!p.bell || !p.panel || !window.htmx) return;
    p.bell.setAttribute("aria-controls", "bell-panel");
    p.bell.setAttribute("aria-expanded", p.panel.hidden ? "false" : "true");
  }
  function show(open) {
    var p = parts();
    if (!p.panel) return;
    p.panel.hidden = !open;
    if (open) htmx.trigger(p.panel, "bell-open");
    sync();
  }
  document.addEventListener("click", function (event) {
    var p = parts();
    if (!p.panel || !window.htmx) return;
    if (event.target.closest("#bell")) {
      if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
      event.preventDefault();
      show(p.panel.hidden);
    } else if (!p.panel.hidden && !event.target.closest(".bell-menu")) {
      show(false);
    }
  });
  document.addEventListener("keydown", function (event) {
    var p = parts();
    if (event.key !== "Escape" || !p.panel || p.panel.hidden) return;
    show(false);
    if (p.bell) p.bell.focus();
  });
  document.addEventListener("DOMContentLoaded", sync);
  document.addEventListener("htmx:afterSettle", sync);
  document.addEventListener("htmx:oobAfterSwap", sync);
})();

// ---- Type-ahead pickers (tasks/pickers.py) ----------------------------------------------
// A <select data-picker="people|related-objects|request-types"> becomes a Tom Select
// (static/vendor/tom-select) that searches the server as the user types; data-card and
// data-role narrow a people picker to who may take that role on that card. The select keeps
// its own options and value, so without JavaScript (or before this runs) it is a plain select
// that posts the same thing. Each control is named after its select (aria-label or label).
(function () {
  var SEARCHES = {
    people: "/pick/people/",
    "related-objects": "/pick/related-objects/",
    "request-types": "/pick/request-types/",
  };
  function nameOf(select) {
    var label = select.getAttribute("aria-label");
    if (!label && select.labels && select.labels.length) label = select.labels[0].textContent;
    return (label || select.name).trim();
  }
  function enhance(select) {
    var url = SEARCHES[select.dataset.picker];
    if (!url || select.tomselect || !window.TomSelect) return;
    var params = new URLSearchParams();
    if (select.dataset.card) params.set("card", select.dataset.card);
    if (select.dataset.role) params.set("role", select.dataset.role);
    var name = nameOf(select);  // before Tom Select points the <label> at its own input
    var picker = new TomSelect(select, {
      valueField: "value",
      labelField: "text",
      searchField: ["text", "found"],
      allowEmptyOption: !select.required,
      closeAfterSelect: !select.multiple,
      maxOptions: 50,
      loadThrottle: 200,
      load: function (query, done) {
        params.set("q", query);
        fetch(url + "?" + params.toString(), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        })
          .then(function (answer) { return answer.ok ? answer.json() : { results: [] }; })
          .then(function (found) {
            // Keep the options the page rendered (their labels may say more, e.g. a person's
            // load on the dispatch board), findable by what the server matched; add the rest.
            done(found.results.filter(function (row) {
              var shown = picker.options[row.value];
              if (shown) shown.found = row.text;
              return !shown;
            }));
          })
          .catch(function () { done(); });
      },
    });
    // One control per choice for assistive technology: the search box (a combobox) carries
    // the name; the select it fills stays in the form, out of the tab order and unannounced.
    select.setAttribute("aria-hidden", "true");
    picker.control_input.setAttribute("aria-label", name);
    picker.dropdown_content.setAttribute("aria-label", name);
  }
  function enhanceWithin(root) {
    if (!root || !root.querySelectorAll) return;
    if (root.matches && root.matches("select[data-picker]")) enhance(root);
    root.querySelectorAll("select[data-picker]").forEach(enhance);
  }
  document.addEventListener("DOMContentLoaded", function () { enhanceWithin(document); });
  document.addEventListener("htmx:load", function (event) { enhanceWithin(event.detail.elt); });
})();
// ---- end of the type-ahead pickers -------------------------------------------------------
