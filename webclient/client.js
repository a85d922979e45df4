// deskmail client.js: a person's notifications, live, in a browser, and
// seen-acks posted only when the person really saw a message.
//
// One dependency-free ES module, served by deskmail at GET /v1/client.js.
// docs/WEBAPP.md shows how a web app uses it. In short:
//
//   import { Deskmail } from "https://deskmail.example.com/v1/client.js";
//   const dm = new Deskmail({ base: "https://deskmail.example.com", person: "agent-1",
//                             token: () => fetch("/deskmail-token").then((r) => r.text()) });
//   dm.addEventListener("notification", () => ping.play());
//   dm.addEventListener("unread", (e) => (badge.textContent = e.detail.unread));
//   dm.start();
//   dm.watch(messageElement, conversationId, messageId);
//
// What it does:
// - opens the person's stream (EventSource, the token in the query since
//   EventSource cannot send headers); EventSource reconnects by itself with
//   Last-Event-ID, and the server replays what was missed. When the stream
//   is refused (an expired token) it asks for a new token and reconnects
//   with backoff (1 s doubling to 30 s, with jitter), passing the last
//   event id so nothing is lost; after every (re)connection it re-reads the
//   inbox, which sets the unread count and resumes anything still missing.
// - keeps the unread count and fires "unread" when it changes, and
//   "notification" once per new notification (for a ping and a badge).
// - posts a seen-ack for a watched message only when it was really seen:
//   the page visible (Page Visibility API), the window focused, and the
//   message's element at least half in view (IntersectionObserver) for
//   `dwell` milliseconds without interruption. Never for a hidden tab.
//   Acks are batched per conversation up to its newest seen message and
//   retried with backoff until the server takes them.
//
// Events (CustomEvent, data in .detail):
//   "state"        {state: "connecting" | "open" | "reconnecting" | "stopped", retryIn?}
//   "inbox"        {notifications, unread} after each inbox read
//   "notification" a notification {person, message, conversation, reason, notified_at}
//   "unread"       {unread}
//   "seen"         {conversation, message, element}: the person saw it; an ack follows
//   "acked"        {conversation, upTo, marked}: the server recorded the ack
//   "error"        {error, status?}: a failure; retried unless status is 4xx

const defaults = {
  dwell: 1000, // ms a message must stay half in view in a visible, focused page
  threshold: 0.5, // part of the element that must be in view
  batchDelay: 300, // ms to gather acks before posting
  minBackoff: 1000,
  maxBackoff: 30000,
  inboxLimit: 50,
  knownLimit: 2000, // notification ids remembered to skip repeats
};

// Deskmail message ids sort by creation time as strings.
const newer = (a, b) => !b || a > b;

export class Deskmail extends EventTarget {
  #o;
  #token = "";
  #es = null;
  #lastEventId = "";
  #known = new Set();
  #loaded = false;
  #unread = 0;
  #running = false;
  #attempt = 0;
  #retryTimer = 0;
  #io = null;
  #watched = new Map(); // element -> {conversation, message, inView, timer}
  #pending = new Map(); // conversation -> newest message seen, not yet acked
  #acked = new Map(); // conversation -> newest message acked
  #flushTimer = 0;
  #flushing = false;
  #ackAttempt = 0;

  /**
   * @param {object} options
   * @param {string} options.base deskmail's URL, e.g. "https://deskmail.example.com"
   * @param {string} options.person the person's id
   * @param {string|function(): (string|Promise<string>)} options.token a person
   *   token, or a function that gets a fresh one from the web app's server
   *   (called again when the server refuses the current one)
   */
  constructor(options) {
    super();
    const o = { ...defaults, ...options };
    if (!o.base || !o.person || !o.token) throw new TypeError("Deskmail: base, person and token are required");
    o.base = String(o.base).replace(/\/+$/, "");
    o.fetch = o.fetch || globalThis.fetch.bind(globalThis);
    o.EventSource = o.EventSource || globalThis.EventSource;
    o.document = o.document || globalThis.document;
    o.window = o.window || globalThis;
    this.#o = o;
  }

  /** The person's unseen notifications, as the server last said plus what came since. */
  get unread() {
    return this.#unread;
  }

  /** Opens the stream and reads the inbox. */
  start() {
    if (this.#running) return;
    this.#running = true;
    const { document: d, window: w } = this.#o;
    d.addEventListener("visibilitychange", this.#pageChanged);
    w.addEventListener("focus", this.#pageChanged);
    w.addEventListener("blur", this.#pageChanged);
    w.addEventListener("pagehide", this.#flushNow);
    this.#connect(false);
  }

  /** Closes the stream and forgets every watched element; pending acks are posted first. */
  stop() {
    if (!this.#running) return;
    this.#running = false;
    const { document: d, window: w } = this.#o;
    d.removeEventListener("visibilitychange", this.#pageChanged);
    w.removeEventListener("focus", this.#pageChanged);
    w.removeEventListener("blur", this.#pageChanged);
    w.removeEventListener("pagehide", this.#flushNow);
    clearTimeout(this.#retryTimer);
    this.#es?.close();
    this.#es = null;
    for (const el of [...this.#watched.keys()]) this.unwatch(el);
    this.#flushNow();
    this.#emit("state", { state: "stopped" });
  }

  /**
   * Watches the element that shows a message: once the person has seen it
   * (visible, focused page; at least half of it in view for `dwell` ms),
   * "seen" fires and an ack up to it is posted for its conversation.
   */
  watch(element, conversation, message) {
    if (!element || !conversation || !message) throw new TypeError("Deskmail.watch: element, conversation and message are required");
    if (!newer(message, this.#acked.get(conversation)) || this.#watched.has(element)) return;
    if (!this.#io) {
      this.#io = new this.#o.window.IntersectionObserver((entries) => this.#intersections(entries), {
        threshold: [0, this.#o.threshold],
      });
    }
    this.#watched.set(element, { conversation, message, inView: false, timer: 0 });
    this.#io.observe(element);
  }

  /** Stops watching an element (it left the page). */
  unwatch(element) {
    const w = this.#watched.get(element);
    if (!w) return;
    clearTimeout(w.timer);
    this.#watched.delete(element);
    this.#io?.unobserve(element);
  }

  // --- the stream ---

  async #freshToken(renew) {
    const t = this.#o.token;
    if (typeof t !== "function") return t;
    if (renew || !this.#token) this.#token = await t();
    return this.#token;
  }

  async #connect(renew) {
    this.#emit("state", { state: this.#attempt ? "reconnecting" : "connecting" });
    let token;
    try {
      token = await this.#freshToken(renew);
    } catch (error) {
      this.#emit("error", { error });
      return this.#retry();
    }
    if (!this.#running) return;
    const url = new URL(`${this.#o.base}/v1/people/${encodeURIComponent(this.#o.person)}/notifications/stream`);
    url.searchParams.set("access_token", token);
    if (this.#lastEventId) url.searchParams.set("last_event_id", this.#lastEventId);
    const es = new this.#o.EventSource(url.href);
    this.#es = es;
    es.addEventListener("open", () => {
      this.#attempt = 0;
      this.#emit("state", { state: "open" });
      this.#readInbox();
    });
    es.addEventListener("notification", (ev) => this.#notified(ev));
    es.addEventListener("error", () => {
      if (this.#es !== es) return;
      if (es.readyState === 2) {
        // Refused (an expired or revoked token, a limit): EventSource
        // gives up; reconnect with a new token.
        es.close();
        this.#retry();
      } else {
        this.#emit("state", { state: "reconnecting" }); // EventSource retries with Last-Event-ID
      }
    });
  }

  #retry() {
    if (!this.#running) return;
    this.#es = null;
    const { minBackoff, maxBackoff } = this.#o;
    const delay = Math.min(maxBackoff, minBackoff * 2 ** this.#attempt) * (0.8 + 0.4 * Math.random());
    this.#attempt++;
    this.#emit("state", { state: "reconnecting", retryIn: Math.round(delay) });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#connect(true), delay);
  }

  #notified(ev) {
    let n;
    try {
      n = JSON.parse(ev.data);
    } catch (error) {
      this.#emit("error", { error });
      return;
    }
    if (ev.lastEventId && newer(ev.lastEventId, this.#lastEventId)) this.#lastEventId = ev.lastEventId;
    this.#add(n, true);
  }

  // #add records a notification; a new, unseen one counts and is announced.
  #add(n, announce) {
    if (this.#known.has(n.message)) return;
    this.#known.add(n.message);
    if (this.#known.size > this.#o.knownLimit) this.#known.delete(this.#known.values().next().value);
    if (newer(n.message, this.#lastEventId)) this.#lastEventId = n.message;
    if (!announce || n.seen_at || !newer(n.message, this.#acked.get(n.conversation))) return;
    this.#unread++;
    this.#emit("notification", n);
    this.#emit("unread", { unread: this.#unread });
  }

  async #readInbox(renewed = false) {
    const url = `${this.#o.base}/v1/people/${encodeURIComponent(this.#o.person)}/notifications?limit=${this.#o.inboxLimit}`;
    let resp;
    try {
      resp = await this.#o.fetch(url, { headers: { Authorization: `Bearer ${await this.#freshToken(false)}` } });
    } catch (error) {
      this.#emit("error", { error });
      return;
    }
    if (!this.#running) return; // stopped meanwhile
    if (resp.status === 401 && !renewed && typeof this.#o.token === "function") {
      await this.#freshToken(true).catch(() => {});
      return this.#readInbox(true);
    }
    if (!resp.ok) {
      this.#emit("error", { error: new Error(`inbox: ${resp.status}`), status: resp.status });
      return;
    }
    const body = await resp.json();
    if (!this.#running) return;
    // Oldest first, so the newest is announced last.
    for (const n of [...body.notifications].reverse()) this.#add(n, this.#loaded);
    this.#loaded = true;
    this.#unread = body.unread;
    this.#emit("inbox", body);
    this.#emit("unread", { unread: this.#unread });
  }

  // --- seen ---

  #visible() {
    const { document: d } = this.#o;
    return d.visibilityState === "visible" && d.hasFocus();
  }

  #intersections(entries) {
    for (const e of entries) {
      const w = this.#watched.get(e.target);
      if (!w) continue;
      w.inView = e.isIntersecting && e.intersectionRatio >= this.#o.threshold - 0.001;
      this.#consider(e.target, w);
    }
  }

  #pageChanged = () => {
    for (const [el, w] of this.#watched) this.#consider(el, w);
  };

  // #consider starts the dwell timer while the element is in view in a
  // visible, focused page, and stops it as soon as any of the three ends.
  #consider(el, w) {
    if (w.inView && this.#visible()) {
      if (!w.timer) {
        w.timer = setTimeout(() => {
          w.timer = 0;
          if (w.inView && this.#visible() && this.#watched.get(el) === w) this.#saw(el, w);
        }, this.#o.dwell);
      }
    } else if (w.timer) {
      clearTimeout(w.timer);
      w.timer = 0;
    }
  }

  #saw(el, w) {
    this.unwatch(el);
    const { conversation, message } = w;
    this.#emit("seen", { conversation, message, element: el });
    if (!newer(message, this.#acked.get(conversation)) || !newer(message, this.#pending.get(conversation))) return;
    this.#pending.set(conversation, message);
    this.#schedule(this.#o.batchDelay);
  }

  #schedule(delay) {
    if (this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = 0;
      this.#flush();
    }, delay);
  }

  #flushNow = () => {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = 0;
    this.#flush();
  };

  async #flush() {
    if (this.#flushing || this.#pending.size === 0) return;
    this.#flushing = true;
    try {
      for (const [conversation, upTo] of [...this.#pending]) {
        const out = await this.#post(conversation, upTo);
        if (this.#pending.get(conversation) === upTo) this.#pending.delete(conversation);
        if (out === null) continue; // refused for good: reported, not retried
        if (newer(upTo, this.#acked.get(conversation))) this.#acked.set(conversation, upTo);
        const marked = out.marked || [];
        if (marked.length) {
          this.#unread = Math.max(0, this.#unread - marked.length);
          this.#emit("unread", { unread: this.#unread });
        }
        this.#emit("acked", { conversation, upTo, marked });
      }
      this.#ackAttempt = 0;
    } catch (error) {
      this.#emit("error", { error });
      const { minBackoff, maxBackoff } = this.#o;
      this.#ackAttempt++;
      this.#flushing = false;
      this.#schedule(Math.min(maxBackoff, minBackoff * 2 ** (this.#ackAttempt - 1)) * (0.8 + 0.4 * Math.random()));
      return;
    }
    this.#flushing = false;
    if (this.#pending.size) this.#schedule(this.#o.batchDelay);
  }

  // #post sends one ack: the answer, null when refused for good (a 4xx
  // other than 401 and 429), or a throw to retry.
  async #post(conversation, upTo, renewed = false) {
    const resp = await this.#o.fetch(`${this.#o.base}/v1/seen`, {
      method: "POST",
      keepalive: true, // an ack posted as the page goes away still leaves
      headers: { Authorization: `Bearer ${await this.#freshToken(renewed)}`, "Content-Type": "application/json" },
      body: JSON.stringify({ person: this.#o.person, conversation, up_to: upTo }),
    });
    if (resp.ok) return resp.json();
    if (resp.status === 401 && !renewed && typeof this.#o.token === "function") return this.#post(conversation, upTo, true);
    if (resp.status === 429 || resp.status >= 500 || resp.status === 401) throw new Error(`seen-ack: ${resp.status}`);
    this.#emit("error", { error: new Error(`seen-ack refused: ${resp.status}`), status: resp.status });
    return null;
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}
