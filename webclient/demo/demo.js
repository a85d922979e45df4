// The demo messenger: one person's inbox and conversations, live, on
// client.js and a person token from the URL's fragment (#token=...).
import { Deskmail } from "/v1/client.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.hash.slice(1));
const token = params.get("token") || "";
// The token names its person: dmp1.BASE64URL(person).generation.expiry.mac
const person = (() => {
  try {
    const p = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return new TextDecoder().decode(Uint8Array.from(atob(p), (c) => c.charCodeAt(0)));
  } catch {
    return "";
  }
})();

const notifications = new Map(); // message id -> notification
let open = ""; // the conversation shown
let pings = 0;
let acks = 0;

function text(el, s) {
  el.textContent = s;
  return el;
}

function when(t) {
  return new Date(t).toLocaleTimeString();
}

function setUnread(n) {
  const b = text($("unread"), String(n));
  b.classList.toggle("zero", n === 0);
  document.title = (n ? `(${n}) ` : "") + "deskmail demo messenger";
}

function renderInbox() {
  const ul = $("inbox");
  ul.replaceChildren();
  const all = [...notifications.values()].sort((a, b) => (a.message < b.message ? 1 : -1));
  $("inbox-empty").hidden = all.length > 0;
  for (const n of all) {
    const li = document.createElement("li");
    li.dataset.message = n.message;
    li.dataset.conversation = n.conversation;
    li.className = (n.seen_at ? "seen" : "unseen") + (n.conversation === open ? " open" : "");
    const b = document.createElement("button");
    b.type = "button";
    text(b, `${n.conversation} · ${n.reason} · ${when(n.notified_at)}`);
    b.addEventListener("click", () => show(n.conversation));
    li.append(b);
    ul.append(li);
  }
}

function show(conversation) {
  open = conversation;
  text($("conversation-title"), `Conversation ${conversation}`);
  const ol = $("messages");
  for (const el of ol.children) client.unwatch(el);
  ol.replaceChildren();
  const mine = [...notifications.values()].filter((n) => n.conversation === conversation).sort((a, b) => (a.message < b.message ? -1 : 1));
  for (const n of mine) {
    const li = document.createElement("li");
    li.className = "msg" + (n.seen_at ? " seen" : "");
    li.dataset.message = n.message;
    const mark = text(document.createElement("span"), n.seen_at ? "✓ seen" : "unseen");
    mark.className = "mark";
    const meta = text(document.createElement("div"), `${n.reason} · ${when(n.notified_at)}`);
    meta.className = "meta";
    const body = text(document.createElement("div"), `New message ${n.message}`);
    li.append(mark, body, meta);
    ol.append(li);
    if (!n.seen_at) client.watch(li, conversation, n.message);
  }
  renderInbox();
}

// ping plays a short tone (Web Audio: no file to fetch).
function ping() {
  pings++;
  text($("pings"), String(pings));
  try {
    const ctx = (ping.ctx ||= new AudioContext());
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.frequency.value = 880;
    gain.gain.setValueAtTime(0.1, ctx.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + 0.25);
    osc.connect(gain).connect(ctx.destination);
    osc.start();
    osc.stop(ctx.currentTime + 0.25);
  } catch {
    // no audio device: the count still shows the ping
  }
  navigator.setAppBadge?.(client.unread).catch(() => {});
}

let client;
if (!token || !person) {
  $("help").hidden = false;
  text($("state"), "no token");
} else {
  $("app").hidden = false;
  text($("person"), person);
  const dwell = Number(params.get("dwell")) || undefined;
  client = new Deskmail({ base: location.origin, person, token, dwell });
  window.deskmailDemo = { client };
  client.addEventListener("state", (e) => text($("state"), e.detail.state));
  client.addEventListener("unread", (e) => setUnread(e.detail.unread));
  client.addEventListener("inbox", (e) => {
    for (const n of e.detail.notifications) notifications.set(n.message, n);
    renderInbox();
    if (open) show(open);
  });
  client.addEventListener("notification", (e) => {
    notifications.set(e.detail.message, e.detail);
    ping();
    if (e.detail.conversation === open) show(open);
    else renderInbox();
  });
  client.addEventListener("seen", (e) => {
    const mark = e.detail.element.querySelector(".mark");
    if (mark) text(mark, "seen, telling deskmail…");
  });
  client.addEventListener("acked", (e) => {
    acks++;
    text($("acks"), String(acks));
    const now = new Date().toISOString();
    for (const n of notifications.values()) {
      if (n.conversation === e.detail.conversation && n.message <= e.detail.upTo && !n.seen_at) n.seen_at = now;
    }
    if (open === e.detail.conversation) {
      for (const li of $("messages").children) {
        if (li.dataset.message <= e.detail.upTo) {
          li.classList.add("seen");
          text(li.querySelector(".mark"), "✓ seen");
        }
      }
    }
    renderInbox();
  });
  client.addEventListener("error", (e) => console.warn("deskmail:", e.detail.error));
  setUnread(0);
  client.start();
}
