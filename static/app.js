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
