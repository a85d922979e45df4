// deskmail console: the little script the pages use. Everything works
// without it except the live log tail and the live template preview.
"use strict";

function csrfToken() {
  var f = document.querySelector('input[name="csrf"]');
  return f ? f.value : "";
}

// The live tail of /log: every 5 s, while the box is ticked, fetch the
// newest rows with the page's filters and put them in place.
function setupLive() {
  var box = document.getElementById("live");
  var rows = document.getElementById("log-rows");
  if (!box || !rows || !box.dataset.canLive) return;
  var timer = null;
  function tick() {
    var u = new URL(window.location.href);
    u.searchParams.set("partial", "1");
    fetch(u.toString(), { credentials: "same-origin" }).then(function (r) {
      if (r.ok) return r.text();
      throw new Error(r.status);
    }).then(function (html) { rows.innerHTML = html; }).catch(function () {});
  }
  box.checked = sessionStorage.getItem("deskmail-live") === "1";
  function apply() {
    sessionStorage.setItem("deskmail-live", box.checked ? "1" : "0");
    if (timer) { clearInterval(timer); timer = null; }
    if (box.checked) { tick(); timer = setInterval(tick, 5000); }
  }
  box.addEventListener("change", apply);
  apply();
}

// The live preview of /templates/{name}: after each pause in typing, the
// draft is rendered by the daemon (nothing is saved) and shown; a
// template that does not parse shows its part and line instead.
function setupPreview() {
  var form = document.getElementById("template-form");
  if (!form || !form.dataset.preview) return; // drafts are previewed by admins only
  var err = document.getElementById("preview-error");
  var subject = document.getElementById("preview-subject");
  var frame = document.getElementById("preview-html");
  var text = document.getElementById("preview-text");
  var timer = null, seq = 0;
  // data-shown tells (tests, mostly) that the frame shows the last draft.
  frame.addEventListener("load", function () { frame.dataset.shown = String(seq); });
  function render() {
    var mine = ++seq;
    var body = new URLSearchParams(new FormData(form));
    fetch(form.dataset.preview, {
      method: "POST", credentials: "same-origin", body: body,
      headers: { "X-CSRF-Token": csrfToken() }
    }).then(function (r) { return r.json(); }).then(function (a) {
      if (mine !== seq) return;
      if (a.error) {
        err.textContent = (a.part || "") + (a.line ? " line " + a.line : "") + ": " + a.error;
        err.hidden = false;
        return;
      }
      err.hidden = true;
      subject.textContent = a.subject;
      frame.dataset.shown = "";
      frame.srcdoc = a.html;
      text.textContent = a.text;
    }).catch(function () {});
  }
  form.addEventListener("input", function () {
    if (timer) clearTimeout(timer);
    timer = setTimeout(render, 300);
  });
}

document.addEventListener("DOMContentLoaded", function () {
  setupLive();
  setupPreview();
});
