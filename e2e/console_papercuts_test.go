package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The console's papercuts a new user hit (issue 22), checked in Chromium:
// a held job offers "Send now", the seen mark is words, the log's time
// stays on one line, counts are plural, and the notification template
// says what an empty subject means.
func TestConsolePapercutsInTheBrowser(t *testing.T) {
	br := newBrowser(t)
	dir := t.TempDir()
	// Two posts by the agent: each holds an email to ann for an hour.
	seed(t, dir, time.Hour, map[string][]string{"c1": {"We are looking into it."}, "c2": {"Fixed, I think."}}).Close()
	d := startDaemon(t, dir, "--hold", "1h")
	const password = "a long browser passphrase"
	if r := runCLI(t, strings.NewReader(password+"\n"), nil, "operators", "add", "ada", "--role", "admin", "--data", dir); r.Code != 0 {
		t.Fatalf("operators add: %s", r.Stderr)
	}
	// Ann sees c2's message in the web app.
	msgs := api(t, d, "GET", "/v1/conversations/c2/messages", "")
	list, _ := msgs["messages"].([]any)
	if len(list) != 1 {
		t.Fatalf("c2 messages: %v", msgs)
	}
	c2msg := fmt.Sprint(list[0].(map[string]any)["id"])
	api(t, d, "POST", "/v1/seen", `{"person":"ann","conversation":"c2","up_to":"`+c2msg+`"}`)

	base := "http://" + d.HTTP
	br.run("log in",
		chromedp.Navigate(base+"/log"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), "ada"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`form.login button`)),
		chromedp.WaitVisible(chromedp.CSS(`#log`)))

	// The log's time column: one line, however narrow the table gets.
	br.until(base+"/log", "held")
	if ws := get(br, "read the time cell's style", chromedp.Evaluate[string](`getComputedStyle(document.querySelector('#log-rows td[data-label="When"]')).whiteSpace`)); ws != "nowrap" {
		t.Errorf("the time cell wraps: white-space %q", ws)
	}
	lines := get(br, "count the time cell's lines", chromedp.Evaluate[float64](`(() => { const td = document.querySelector('#log-rows td[data-label="When"]'); const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length; })()`))
	if lines != 1 {
		t.Errorf("the time cell takes %v lines", lines)
	}
	br.screenshot("papercuts-log")

	// The held job: "Send now", not "Retry"; "1 message", not "1 message(s)".
	br.until(base+"/queue", "held")
	queue := br.text("main")
	if !strings.Contains(queue, "Send now") || strings.Contains(queue, "Retry") || !strings.Contains(queue, "1 message") || strings.Contains(queue, "(s)") {
		t.Errorf("the queue page:\n%s", queue)
	}
	br.screenshot("papercuts-queue")
	br.run("open the held job", chromedp.Click(chromedp.CSS(`a.mono[href^="/queue/"]`)), chromedp.WaitVisible(chromedp.CSS(`dl.facts`)))
	if b := br.text(`form[action$="/retry"] button`); b != "Send now" {
		t.Errorf("the held job's button says %q", b)
	}

	// The seen mark is words, no emoji a browser without an emoji font
	// shows as an empty box.
	br.until(base+"/messages/"+c2msg+"?person=ann", "seen ")
	seen := br.text(`#recipients-table td[data-label="Seen"]`)
	if !strings.HasPrefix(seen, "seen 20") || strings.ContainsRune(seen, '👁') {
		t.Errorf("the seen cell says %q", seen)
	}
	br.screenshot("papercuts-seen")

	// The notification template's empty subject says what is used.
	br.run("open the notification template", chromedp.Navigate(base+"/templates/notification"), chromedp.WaitVisible(chromedp.CSS(`#template-form`)))
	ph := get(br, "read the placeholder", chromedp.Evaluate[string](`document.querySelector('input[name=subject]').placeholder`))
	if !strings.Contains(ph, "conversation's subject") || !strings.Contains(br.text("#subject-hint"), "conversation's subject") {
		t.Errorf("the subject field says %q", ph)
	}
	br.screenshot("papercuts-template")
	d.stop()
}
