package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/browsertest"
)

// The console in a real browser: Debian's Chromium, headless, driven by
// chromedp against the built daemon. In CI (CI=true) a missing browser is
// a failure, not a skip: .ci/run installs it.

// browser starts a headless Chromium with a fresh profile and returns a
// context to run actions in. Screenshots go to a folder that is removed
// when the test passes and kept (and named) when it fails; with
// DESKMAIL_SCREENSHOTS=DIR they are written there and kept (docs/console).
type browser struct {
	t    *testing.T
	ctx  context.Context
	shot string
	n    int
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	ctx := browsertest.Start(t, 3*time.Minute)
	shots := os.Getenv("DESKMAIL_SCREENSHOTS")
	if shots == "" {
		dir, err := os.MkdirTemp("", "deskmail-console-shots-")
		if err != nil {
			t.Fatal(err)
		}
		shots = dir
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("screenshots of every page visited are kept in %s", dir)
				return
			}
			os.RemoveAll(dir)
		})
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	return &browser{t: t, ctx: ctx, shot: shots}
}

// run runs actions; on error it takes a screenshot and fails.
func (b *browser) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves the visible page as NN-name.png.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 15*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	b.n++
	if err := os.WriteFile(filepath.Join(b.shot, fmt.Sprintf("%02d-%s.png", b.n, name)), png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// text returns the text of the first element matching sel.
func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// get runs one action that answers a value; on error it fails as run does.
func get[T any](b *browser, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.screenshot("failed-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
	return v
}

// until reloads url until the page's body text holds want (the daemon
// works in the background: the pipeline, the queue worker).
func (b *browser) until(url, want string) {
	b.t.Helper()
	deadline := time.Now().Add(lineTimeout)
	for {
		b.run("open "+url, chromedp.Navigate(url))
		body := b.text("body")
		if strings.Contains(body, want) {
			return
		}
		if time.Now().After(deadline) {
			b.screenshot("waiting-for-" + strings.ReplaceAll(want, " ", "-"))
			b.t.Fatalf("%s never showed %q; it shows:\n%s", url, want, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestConsoleInTheBrowser(t *testing.T) {
	br := newBrowser(t)
	dir := t.TempDir()
	sink := newSMTPSink(t)
	// The relay refuses the first email for good: that job fails, and the
	// operator's retry sends it.
	sink.Answer = func(n int) error {
		if n == 1 {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox here"}
		}
		return nil
	}
	// The agent's post in c1 holds an email to ann for an hour.
	seed(t, dir, time.Hour, map[string][]string{"c1": {"We are looking into it."}}).Close()
	d := startDaemon(t, dir, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure", "--hold", "1h")

	const password = "a long browser passphrase"
	if r := runCLI(t, strings.NewReader(password+"\n"), nil, "operators", "add", "ada", "--role", "admin", "--data", dir); r.Code != 0 {
		t.Fatalf("operators add: %s", r.Stderr)
	}
	if r := runCLI(t, nil, nil, "operators", "list", "--data", dir); !strings.Contains(r.Stdout, "ada") || !strings.Contains(r.Stdout, "admin") {
		t.Fatalf("operators list: %q %q", r.Stdout, r.Stderr)
	}
	// A failed job: the password reset the relay refuses.
	api(t, d, "POST", "/v1/events", `{"id":"ev-1","type":"password.reset_requested","person":"agent","link":"https://app.test/reset?t=1"}`)
	// A received email: Ann answers in c1 (its subject tag), which notifies
	// the agent, who posted there.
	sendOne(t, d.SMTP, []byte(strings.ReplaceAll("From: Ann <ann@client.test>\nTo: support@example.test\n"+
		"Subject: Re: About c1 [#1001] printer on fire\nMessage-ID: <ann-1@client.test>\nDate: Mon, 30 Nov 2026 12:00:00 +0000\n\n"+
		"It is still burning.\n", "\n", "\r\n")))

	base := "http://" + d.HTTP
	// Log in.
	br.run("open the log", chromedp.Navigate(base+"/log"), chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)))
	br.screenshot("login")
	br.run("log in",
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), "ada"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`#log`)))
	if who := br.text(`.who span`); who != "ada (admin)" {
		t.Errorf("logged in as %q", who)
	}

	// Find the received email in the log and open its delivery page.
	br.until(base+"/log?direction=in&q=printer", "printer on fire")
	br.screenshot("log")
	br.run("open the message",
		chromedp.Click(chromedp.Search(`//tr[td[contains(., "printer on fire")]]//a[text()="message"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#recipients-table`)))
	story := br.text(`#recipients-table`)
	for _, want := range []string{"Agent", "customer message in followed conversation", "held"} {
		if !strings.Contains(story, want) {
			t.Errorf("the delivery page lacks %q:\n%s", want, story)
		}
	}
	br.screenshot("message")
	// deskmail why tells the same story in a terminal, from the daemon.
	loc := get(br, "read the location", chromedp.Location())
	msgID := loc[strings.LastIndex(loc, "/")+1:]
	why := func(how string) {
		t.Helper()
		r := runCLI(t, nil, nil, "why", "--message", msgID, "--data", dir)
		for _, want := range []string{"Agent (agent)", "rule:     customer message in followed conversation", "email:    held", "held until"} {
			if !strings.Contains(r.Stdout, want) {
				t.Errorf("deskmail why (%s) lacks %q: exit %d\n%s%s", how, want, r.Code, r.Stdout, r.Stderr)
			}
		}
	}
	why("daemon running")
	// The log line itself, with every field and a way to the message.
	br.run("open the log line",
		chromedp.Navigate(base+"/log?direction=in&q=printer"),
		chromedp.Click(chromedp.CSS(`#log-rows td[data-label="Subject"] a`)),
		chromedp.WaitVisible(chromedp.CSS(`dl.facts`)))
	if facts := br.text("dl.facts"); !strings.Contains(facts, "<ann-1@client.test>") || !strings.Contains(facts, "human") {
		t.Errorf("the log line page:\n%s", facts)
	}
	br.screenshot("log-entry")

	// A template with a broken tag is refused, with its line.
	br.run("break the welcome template",
		chromedp.Navigate(base+"/templates/welcome"),
		chromedp.WaitVisible(chromedp.CSS(`#template-form`)),
		chromedp.SetValue(chromedp.CSS(`textarea[name=html]`), "<p>Welcome!</p>\n<p>{{.RecipientName</p>\n"),
		chromedp.Click(chromedp.CSS(`#template-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.error`)))
	if msg := br.text(`p.error`); !strings.Contains(msg, "Refused") || !strings.Contains(msg, "html") || !strings.Contains(msg, "line 2") {
		t.Errorf("the refusal says %q", msg)
	}
	br.screenshot("template-refused")
	// Fixed, the preview follows as one types, then it saves.
	br.run("fix it", chromedp.SetValue(chromedp.CSS(`textarea[name=html]`), "<p>Welcome aboard, <b>{{.RecipientName}}</b>!</p>\n"))
	get(br, "tell the page it changed", chromedp.Evaluate[bool](`document.querySelector('textarea[name=html]').dispatchEvent(new Event('input', {bubbles: true}))`))
	get(br, "watch the preview follow", chromedp.Poll[bool](`document.getElementById('preview-html').srcdoc.includes('Welcome aboard') && document.getElementById('preview-error').hidden && document.getElementById('preview-html').dataset.shown !== ''`,
		chromedp.WithPollingTimeout(10*time.Second)))
	br.screenshot("template-preview")
	br.run("save it",
		chromedp.Click(chromedp.CSS(`#template-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if msg := br.text(`p.flash`); !strings.Contains(msg, "Saved") {
		t.Errorf("after saving: %q", msg)
	}

	// Switch a system email off; password reset offers no switch.
	br.run("switch welcome off",
		chromedp.Navigate(base+"/templates"),
		chromedp.Click(chromedp.CSS(`button[data-switch="welcome"]`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if row := br.text(`#sys-welcome`); !strings.Contains(row, "off") {
		t.Errorf("welcome row after the switch: %q", row)
	}
	if row := br.text(`#sys-password_reset`); !strings.Contains(row, "always on") {
		t.Errorf("password reset row: %q", row)
	}
	br.screenshot("templates")

	// Retry the failed job; the relay takes it this time.
	br.until(base+"/queue", "no such mailbox here")
	br.screenshot("queue")
	br.run("open the failed job",
		chromedp.Click(chromedp.CSS(`#failed-jobs a.mono`)),
		chromedp.WaitVisible(chromedp.CSS(`dl.facts`)))
	if facts := br.text("dl.facts"); !strings.Contains(facts, "failed") || !strings.Contains(facts, "no such mailbox here") {
		t.Errorf("the job page:\n%s", facts)
	}
	br.screenshot("job")
	br.run("retry the failed job",
		chromedp.Click(chromedp.CSS(`form[action$="/retry"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`p.flash`)))
	if msg := br.text(`p.flash`); !strings.Contains(msg, "queued") {
		t.Errorf("after retry: %q", msg)
	}
	// The success box shows lines chosen by key, never text from a link
	// (issue 21, item 12).
	br.run("a link with its own success text", chromedp.Navigate(base+"/log?done=Re-enter+your+password+at+https://evil.test"),
		chromedp.WaitVisible(chromedp.CSS("#log")))
	if get(br, "look for a success box", chromedp.Evaluate[bool](`document.querySelector('p.flash') !== null || document.body.innerText.includes('evil.test')`)) {
		t.Error("the console shows text from the URL in its success box")
	}
	if got := sink.wait(t, 1); got[0].to != "agent@example.test" {
		t.Errorf("the retried email went to %s", got[0].to)
	}

	// The other pages, for the record.
	for _, p := range []struct{ path, sel, name string }{
		{"/automations", "#automations", "automations"},
		{"/status", "dl.facts", "status"},
		{"/audit", "#audit", "audit"},
	} {
		br.run("open "+p.path, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		br.screenshot(p.name)
	}
	if a := br.text("#audit"); !strings.Contains(a, "system_email.off") || !strings.Contains(a, "queue.retry") || !strings.Contains(a, "template.save") {
		t.Errorf("the audit trail lacks the changes:\n%s", a)
	}
	// A phone's width: the log still reads, one block per line.
	br.run("phone width", chromedp.EmulateViewport(390, 844), chromedp.Navigate(base+"/log"), chromedp.WaitVisible(chromedp.CSS("#log")))
	br.screenshot("log-phone")

	// With the daemon stopped, the CLI reads the data folder itself.
	d.stop()
	why("daemon stopped")
	if r := runCLI(t, nil, nil, "operators", "list", "--data", dir); !strings.Contains(r.Stdout, "ada") {
		t.Errorf("operators list offline: %q %q", r.Stdout, r.Stderr)
	}
}
