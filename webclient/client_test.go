package webclient

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/deskmail/deskmail/browsertest"
)

// client.js in a real Chromium, its network faked in the page
// (testdata/harness.html records every fetch and EventSource and answers
// them), so each rule is checked alone: when an ack is posted, what it
// says, its retries, and the stream's reconnection. dwell is 100 ms.

type page struct {
	t   *testing.T
	ctx context.Context
	url string
}

func newPage(t *testing.T) *page {
	t.Helper()
	harness, err := os.ReadFile("testdata/harness.html")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/client.js":
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(ClientJS)
		case "/":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(harness)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	ctx := browsertest.Start(t, 2*time.Minute)
	p := &page{t: t, ctx: ctx, url: srv.URL + "/"}
	p.do("a focused window", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	}))
	return p
}

func (p *page) do(what string, a ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, a...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// reload opens a fresh harness and runs setup in it; setup's "|" marks
// where the client has started: what follows runs once its first stream
// exists (the client gets its token asynchronously).
func (p *page) reload(setup string) {
	p.t.Helper()
	p.do("open the harness", chromedp.Navigate("about:blank"), chromedp.Navigate(p.url))
	p.until("the harness is ready", "window.ready === true")
	before, after, _ := strings.Cut(setup, "|")
	p.eval(before)
	p.until("the stream", "sources.length === 1")
	p.eval(after)
}

func (p *page) eval(js string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`JSON.stringify((() => { %s })() ?? null)`, js)))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return v
}

func (p *page) until(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(10*time.Millisecond)))
	for i := 0; i < 5 && err != nil && strings.Contains(err.Error(), "Cannot find context"); i++ {
		// The page was replaced under the poll (a navigation just ended).
		_, err = chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingInterval(10*time.Millisecond)))
	}
	if err != nil {
		p.t.Fatalf("waiting for %s (%s): %v; events %s; calls %s", what, expr, err, p.eval("return events"), p.eval("return calls"))
	}
}

// dwells waits n dwell times in the page's clock: time enough for an ack
// that was going to be decided.
func (p *page) dwells(n int) {
	p.t.Helper()
	p.eval("window.t0 = performance.now()")
	p.until(fmt.Sprintf("%d dwells", n), fmt.Sprintf("performance.now() - window.t0 > %d * (window.dwellMs + 20)", n))
}

func TestClientSeenAcks(t *testing.T) {
	p := newPage(t)
	watchAll := `const c = makeClient(); c.start(); | sources[0].open(); const c = client;
		c.watch(m1, "c1", "a1"); c.watch(m2, "c1", "a2"); c.watch(m3, "c2", "b1");`

	t.Run("one ack per conversation, up to its newest seen message", func(t *testing.T) {
		p.t = t
		p.reload(watchAll)
		p.until("two acks", "seenPosts().length === 2")
		p.dwells(2)
		if got := p.eval("return seenPosts().sort().join(' ')"); got != `"c1:a2 c2:b1"` {
			t.Fatalf("acks %s", got)
		}
		if got := p.eval(`return calls.filter((c) => c.path === "/v1/seen").every((c) => c.body.person === "p1" && c.auth === "Bearer tok1")`); got != "true" {
			t.Fatalf("an ack without the person or the token: %s", p.eval("return calls"))
		}
	})
	t.Run("never for a hidden tab; posted once it shows", func(t *testing.T) {
		p.t = t
		p.reload(`window.hiddenTab = true;
			Object.defineProperty(document, "visibilityState", {configurable: true, get: () => hiddenTab ? "hidden" : "visible"});` + watchAll)
		p.dwells(3)
		if got := p.eval("return seenPosts().length"); got != "0" {
			t.Fatalf("a hidden tab posted %s acks: %s", got, p.eval("return seenPosts()"))
		}
		p.eval(`hiddenTab = false; document.dispatchEvent(new Event("visibilitychange"))`)
		p.until("the acks once visible", "seenPosts().length === 2")
	})
	t.Run("never for a window without the focus", func(t *testing.T) {
		p.t = t
		p.reload(`window.focused = false; document.hasFocus = () => focused;` + watchAll)
		p.dwells(3)
		if got := p.eval("return seenPosts().length"); got != "0" {
			t.Fatalf("an unfocused window posted %s acks", got)
		}
		p.eval(`focused = true; window.dispatchEvent(new Event("focus"))`)
		p.until("the acks once focused", "seenPosts().length === 2")
	})
	t.Run("only once the element is half in view for a moment", func(t *testing.T) {
		p.t = t
		p.reload(`const c = makeClient({dwell: 500}); c.start(); | sources[0].open(); const c = client; c.watch(far, "c9", "z1");`)
		p.dwells(3)
		if got := p.eval("return seenPosts().length"); got != "0" {
			t.Fatalf("an element out of view was acked")
		}
		// A glimpse shorter than the dwell is not seen.
		p.eval(`far.scrollIntoView(); setTimeout(() => window.scrollTo(0, 0), 30)`)
		p.dwells(3)
		if got := p.eval("return seenPosts().length"); got != "0" {
			t.Fatalf("a glimpse was acked")
		}
		p.eval(`far.scrollIntoView()`)
		p.until("the ack once in view", `seenPosts().join() === "c9:z1"`)
	})
	t.Run("retried until the server takes it", func(t *testing.T) {
		p.t = t
		p.reload(`answers["/v1/seen"] = [{status: 503, body: {error: "temporary failure, try again"}}, {status: 401, body: {error: "person token expired"}}];
			const c = makeClient(); c.start(); | sources[0].open(); const c = client; c.watch(m1, "c1", "a1");`)
		p.until("the third post is taken", `events.some((e) => e.type === "acked")`)
		if got := p.eval(`return calls.filter((c) => c.path === "/v1/seen").map((c) => c.auth).join()`); got != `"Bearer tok1,Bearer tok1,Bearer tok2"` {
			t.Fatalf("the posts carried %s, want a new token after the 401", got)
		}
	})
	t.Run("a refused ack is reported, not retried", func(t *testing.T) {
		p.t = t
		p.reload(`answers["/v1/seen"] = [{status: 403, body: {error: "this person token is for p2"}}];
			const c = makeClient(); c.start(); | sources[0].open(); const c = client; c.watch(m1, "c1", "a1");`)
		p.until("the error", `events.some((e) => e.type === "error" && e.detail.status === 403)`)
		p.dwells(3)
		if got := p.eval("return seenPosts().length"); got != "1" {
			t.Fatalf("%s posts", got)
		}
	})
}

func TestClientStream(t *testing.T) {
	p := newPage(t)
	t.Run("the unread count and a notification event per new notification", func(t *testing.T) {
		p.t = t
		p.reload(`answers["/v1/people/p1/notifications"] = [{status: 200, body: {unread: 2, notifications: [
				{person: "p1", message: "m2", conversation: "c1", reason: "r", notified_at: "2026-12-07T10:00:00Z"},
				{person: "p1", message: "m1", conversation: "c1", reason: "r", notified_at: "2026-12-07T09:00:00Z"}]}}];
			const c = makeClient(); c.start(); | sources[0].open(); const c = client;`)
		p.until("the inbox", "client.unread === 2")
		if got := p.eval(`return events.filter((e) => e.type === "notification").length`); got != "0" {
			t.Fatalf("the inbox's notifications were announced as new: %s", got)
		}
		p.eval(`sources[0].notify({person: "p1", message: "m3", conversation: "c1", reason: "r", notified_at: "2026-12-07T11:00:00Z"});
			sources[0].notify({person: "p1", message: "m3", conversation: "c1", reason: "r", notified_at: "2026-12-07T11:00:00Z"})`)
		if got := p.eval(`return [client.unread, events.filter((e) => e.type === "notification").length]`); got != "[3,1]" {
			t.Fatalf("after a new notification sent twice: [unread, events] %s", got)
		}
		p.eval(`answers["/v1/seen"] = [{status: 200, body: {marked: ["m1", "m2", "m3"]}}]; client.watch(m1, "c1", "m3")`)
		p.until("the count after the ack", "client.unread === 0")
	})
	t.Run("a refused stream reconnects with a new token and the last event id", func(t *testing.T) {
		p.t = t
		p.reload(`const c = makeClient(); c.start(); | sources[0].open(); const c = client;
			sources[0].notify({person: "p1", message: "m7", conversation: "c1", reason: "r", notified_at: "2026-12-07T11:00:00Z"});
			sources[0].refuse();`)
		p.until("a second stream", "sources.length === 2")
		u := p.eval(`return sources[1].url.search`)
		if !strings.Contains(u, "access_token=tok2") || !strings.Contains(u, "last_event_id=m7") {
			t.Fatalf("the new stream's query: %s", u)
		}
		if got := p.eval(`return sources[0].closed === true`); got != "true" {
			t.Fatalf("the refused stream was left open")
		}
		p.eval(`sources[1].open()`)
		p.until("the inbox re-read", `calls.filter((c) => c.path.endsWith("/notifications")).length === 2`)
		// Refused again and again: the waits grow (50 ms doubling, capped at 200).
		p.eval(`sources[1].refuse()`)
		p.until("a third stream", "sources.length === 3")
		p.eval(`sources[2].refuse()`)
		p.until("a fourth stream", "sources.length === 4")
		if got := p.eval(`return events.filter((e) => e.type === "state" && e.detail.retryIn).map((e) => e.detail.retryIn <= 240 && e.detail.retryIn >= 40)`); got != "[true,true,true]" {
			t.Fatalf("backoffs out of bounds: %s", p.eval(`return events.filter((e) => e.detail && e.detail.retryIn)`))
		}
	})
	t.Run("stop closes the stream", func(t *testing.T) {
		p.t = t
		p.reload(`const c = makeClient(); c.start(); | sources[0].open(); const c = client; c.stop();`)
		p.dwells(2)
		if got := p.eval(`return [sources[0].closed, events.some((e) => e.detail?.state === "stopped"), events.filter((e) => e.type === "inbox").length]`); got != `[true,true,0]` {
			t.Fatalf("after stop: %s", got)
		}
	})
}
