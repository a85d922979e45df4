package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// The web app's side in a real browser: the demo messenger (serve --demo)
// on client.js with a person token, against an in-process daemon whose
// hold runs on a fake clock. A customer's email arrives over SMTP; the
// agent's page shows it and counts it; seen in a visible, focused tab the
// ack cancels the held email; in a hidden tab there is no ack and the
// email leaves when the hold ends.

// demoDwell is how long (ms) a message must stay half in view; the page
// reads it from its URL, so the test waits little.
const demoDwell = 300

func TestWebAppSeenAckInTheBrowser(t *testing.T) {
	br := newBrowser(t)
	sink := newSMTPSink(t)
	clk := clock.NewFake(time.Now())
	p := startInProcessAt(t, t.TempDir(), gateway.Options{Resolver: fakeDNS{}, Clock: clk},
		"--http-addr", "127.0.0.1:0", "--demo", "--hold", "60s",
		"--outbound", "relay", "--relay", sink.addr, "--relay-insecure")
	base := "http://" + p.d.Addrs["http"]
	var tag string
	p.update(t, func(tx *store.Tx) error {
		for _, person := range []model.Person{
			{ID: "agent", Kind: notify.KindUser, Name: "Agent", Emails: []string{"agent@example.test"}, Settings: notify.DefaultSettings()},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann", Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, person); err != nil {
				return err
			}
		}
		c := model.Conversation{ID: "c1", Kind: model.External, Subject: "Printer", Followers: []string{"ann", "agent"}}
		err := model.PutConversation(tx, &c)
		tag = c.Tag
		return err
	})
	tok, err := os.ReadFile(filepath.Join(p.dir, "api-token"))
	if err != nil {
		t.Fatal(err)
	}
	apiToken := strings.TrimSpace(string(tok))
	call := func(method, path, body string, out any) {
		t.Helper()
		callAPI(t, p.d.Addrs["http"], apiToken, method, path, body, out)
	}
	mint := func() string {
		var tok struct{ Token string }
		call("POST", "/v1/people/agent/tokens", `{"ttl":"1h"}`, &tok)
		return tok.Token
	}
	// outLog answers the status and reason of the outgoing log's entries.
	outLog := func() []string {
		var l struct {
			Entries []struct{ Status, Reason string }
		}
		call("GET", "/v1/log?direction=out", "", &l)
		var out []string
		for _, e := range l.Entries {
			out = append(out, e.Status+" "+e.Reason)
		}
		return out
	}
	email := func(n int) {
		p.send(t, "ann@client.test", []string{"support@example.test"}, fmt.Sprintf(
			"From: Ann <ann@client.test>\nTo: support@example.test\nSubject: Re: Printer [#%s]\n"+
				"Message-ID: <ann-%d@client.test>\nDate: Mon, 07 Dec 2026 02:00:00 +0000\n\nStill burning (%d).\n", tag, n, n))
	}
	// watchStream records in the page, from now on, every state the
	// stream goes into ("reconnecting", "open" again): the email is sent
	// after it, so a notification that came while none was recorded came
	// on the connection that was open then, pushed, not read back by a
	// reconnection (its Last-Event-ID replay or the inbox read on open).
	watchStream := func(b *browser) {
		t.Helper()
		get(b, "watch the stream's state", chromedp.Evaluate[bool](`(() => {
			const el = document.getElementById('state');
			window.stateChanges = [];
			new MutationObserver(() => window.stateChanges.push(el.textContent)).observe(el, {childList: true, characterData: true, subtree: true});
			return true;
		})()`))
	}
	// shown waits until the page counts one unread notification and pinged
	// once, and checks it came on the live stream (watchStream). The
	// daemon's clock is not moved meanwhile, so no hold or timer of its
	// own brings it either. The wait is lineTimeout's: how long a loaded
	// machine takes is not what is tested (a fixed second failed under
	// load).
	shown := func(b *browser) {
		t.Helper()
		poll(b, "the notification shows and the count rises", `document.getElementById('unread').textContent === '1' &&
			document.getElementById('pings').textContent === '1' && document.querySelectorAll('#inbox li.unseen').length === 1`, lineTimeout)
		if changes := get(b, "the stream's states", chromedp.Evaluate[[]string](`window.stateChanges`)); len(changes) != 0 {
			t.Errorf("the stream went %q between the email and its notification, want it open throughout (the notification pushed)", changes)
		}
		b.screenshot("notified")
	}
	// openConversation clicks the inbox line: the message is then on the
	// page but below the fold of a phone's screen.
	openConversation := func(b *browser) {
		b.run("open the conversation", chromedp.Click(chromedp.CSS(`#inbox li button`)), chromedp.WaitReady(chromedp.CSS(`#messages li`)))
	}
	// dwellPassed waits in the page's own time for three dwells: long
	// enough for an ack to have been decided, were it going to be.
	dwellPassed := func(b *browser) {
		t.Helper()
		poll(b, "three dwell times pass", fmt.Sprintf(`(window.t0 ??= performance.now(), performance.now() - window.t0 > %d)`, 3*demoDwell), lineTimeout)
		get(b, "reset", chromedp.Evaluate[bool](`delete window.t0`))
	}

	// 1. A visible, focused tab on a phone's screen.
	a := br
	a.run("focus and a phone's screen", emulateFocus(), chromedp.EmulateViewport(390, 640))
	a.run("open the demo", chromedp.Navigate(base+"/demo/#token="+mint()+fmt.Sprintf("&dwell=%d", demoDwell)))
	poll(a, "the stream is open", `document.getElementById('state').textContent === 'open'`, lineTimeout)
	watchStream(a)
	email(1)
	shown(a)
	openConversation(a)
	dwellPassed(a)
	if acks := a.text("#acks"); acks != "0" {
		t.Fatalf("an ack for a message below the fold: acks %s", acks)
	}
	a.run("scroll the message into view", chromedp.ScrollIntoView(chromedp.CSS(`#messages li`)))
	poll(a, "the seen-ack is posted and the count falls", `document.getElementById('acks').textContent === '1' &&
		document.getElementById('unread').textContent === '0' && document.querySelector('#messages li .mark').textContent === '✓ seen'`, lineTimeout)
	a.screenshot("seen")
	if got := outLog(); !containsLine(got, "cancelled seen") {
		t.Fatalf("the outgoing log after the ack: %q, want the held email cancelled (seen)", got)
	}

	// 2. The same tab, reloaded hidden: no ack, and the email leaves after
	// the hold. (A second tab would do, but headless Chromium hangs on a
	// second tab's viewport emulation, and keeps every tab visible anyway.)
	b := a
	b.run("hide the tab", chromedp.Navigate("about:blank"), hideTab())
	b.run("open the demo", chromedp.Navigate(base+"/demo/#token="+mint()+fmt.Sprintf("&dwell=%d", demoDwell)))
	poll(b, "the stream is open", `document.getElementById('state').textContent === 'open' && document.visibilityState === 'hidden'`, lineTimeout)
	watchStream(b)
	email(2)
	shown(b)
	openConversation(b)
	b.run("scroll the message into view", chromedp.ScrollIntoView(chromedp.CSS(`#messages li:not(.seen)`)))
	dwellPassed(b)
	if acks, mark := b.text("#acks"), b.text("#messages li:not(.seen) .mark"); acks != "0" || mark != "unseen" {
		t.Fatalf("a hidden tab acknowledged: acks %s, mark %q", acks, mark)
	}
	b.screenshot("hidden-not-seen")
	before := len(sink.Mails())
	clk.Advance(61 * time.Second)
	got := sink.wait(t, before+1)
	if last := got[len(got)-1]; last.to != "agent@example.test" || !strings.Contains(last.raw, "Still burning (2)") || strings.Contains(last.raw, "Still burning (1)") {
		t.Fatalf("the email after the hold went to %s:\n%s", last.to, last.raw)
	}
	// The relay's 250 comes before the log's "sent" is committed.
	waitfor.Until(t, lineTimeout, "the outgoing log after the hold says sent", func() bool { return containsLine(outLog(), "sent ") })
}

func containsLine(lines []string, prefix string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, prefix) {
			return true
		}
	}
	return false
}

// poll waits until expr is true in the page.
func poll(b *browser, what, expr string, timeout time.Duration) {
	b.t.Helper()
	get(b, what, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(20*time.Millisecond)))
}

// emulateFocus makes the page's window count as focused: a headless
// browser's window never has the system's focus.
func emulateFocus() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true})
		return err
	})
}

// hideTab makes every page the tab loads report a hidden tab through the
// DevTools protocol (a script run before the page's own): headless
// Chromium keeps every tab visible, even behind another or minimized.
func hideTab() chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
			Object.defineProperty(Document.prototype, 'visibilityState', {get() { return 'hidden'; }});
			Object.defineProperty(Document.prototype, 'hidden', {get() { return true; }});`})
		return err
	})
}
