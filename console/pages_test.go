package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/admin"
	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func TestTemplateRefusedWithLineAndKept(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("alice")
	broken := url.Values{"csrf": {tok}, "subject": {"Welcome"}, "text": {"Hello\n{{.Nope"}, "html": {"<p>x</p>"}}
	r, body := f.post(c, "/templates/welcome", broken)
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("broken template: %s", r.Status)
	}
	contains(t, body, "Refused; the saved version stays", "text line 2", "{{.Nope") // the draft stays in the form
	f.update(func(tx *store.Tx) error {
		if tm, _ := templates.Get(tx, "welcome"); tm.Version != 0 {
			t.Errorf("version %d after a refused save, want the default kept", tm.Version)
		}
		return nil
	})
	// The live preview says the same, as JSON.
	r, body = f.post(c, "/templates/welcome/preview", broken)
	var a previewAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || r.StatusCode != http.StatusUnprocessableEntity || a.Part != "text" || a.Line != 2 {
		t.Errorf("preview of a broken template: %s %+v %v", r.Status, a, err)
	}
	good := url.Values{"csrf": {tok}, "subject": {"Hi {{.RecipientName}}"}, "text": {"Hello {{.RecipientName}}\n"}, "html": {"<p>Hello <b>{{.RecipientName}}</b></p>"}}
	r, body = f.post(c, "/templates/welcome/preview", good)
	a = previewAnswer{}
	if err := json.Unmarshal([]byte(body), &a); err != nil || r.StatusCode != http.StatusOK || !strings.Contains(a.HTML, "<b>") || a.Error != "" {
		t.Errorf("preview: %s %+v", r.Status, a)
	}
	if r, _ = f.post(c, "/templates/welcome", good); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %s", r.Status)
	}
	_, body = f.get(c, "/templates/welcome")
	contains(t, body, "v1 ·", "Reset to default")
	if !f.hasAudit("alice", "template.save", "welcome") {
		t.Error("the save is not journaled")
	}
	if r, _ = f.post(c, "/templates/welcome/reset", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %s", r.Status)
	}
	f.update(func(tx *store.Tx) error {
		tm, _ := templates.Get(tx, "welcome")
		d, _ := templates.Default("welcome")
		if tm.Version != 2 || tm.Text != d.Text {
			t.Errorf("after reset: v%d, default text %v", tm.Version, tm.Text == d.Text)
		}
		return nil
	})
}

func TestPasswordResetAlwaysOn(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("alice")
	_, body := f.get(c, "/templates")
	row := body[strings.Index(body, `id="sys-password_reset"`):]
	row = row[:strings.Index(row, "</tr>")]
	if !strings.Contains(row, "always on") || strings.Contains(row, "<button") {
		t.Errorf("password reset row offers a switch: %s", row)
	}
	if r, _ := f.post(c, "/templates/password_reset/switch", url.Values{"csrf": {tok}, "enabled": {"off"}}); r.StatusCode != http.StatusConflict {
		t.Errorf("switching password reset off: %s, want 409", r.Status)
	}
}

func TestBuiltinAutomationFirstAndKept(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("alice")
	f.update(func(tx *store.Tx) error {
		_, err := center.PutAutomation(tx, center.Automation{ID: "aaa", Name: "closed", Enabled: true, Trigger: center.ItemClosed,
			Action: center.Action{Kind: center.PostMessage, Text: "Closed."}}, f.clk.Now())
		return err
	})
	_, body := f.get(c, "/automations")
	if strings.Index(body, `id="auto-new-message"`) > strings.Index(body, `id="auto-aaa"`) {
		t.Error("the built-in automation is not listed first")
	}
	for _, p := range []string{"/automations/new-message/delete", "/automations/new-message/switch"} {
		if r, _ := f.post(c, p, url.Values{"csrf": {tok}, "enabled": {"off"}}); r.StatusCode != http.StatusConflict {
			t.Errorf("POST %s: %s, want 409", p, r.Status)
		}
	}
	if r, _ := f.post(c, "/automations/new-message", url.Values{"csrf": {tok}, "text": {"A new message for you."}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("edit the built-in text: %s", r.Status)
	}
	if r, _ := f.post(c, "/automations/aaa/switch", url.Values{"csrf": {tok}, "enabled": {"off"}}); r.StatusCode != http.StatusSeeOther {
		t.Errorf("disable: %s", r.Status)
	}
	r, body := f.post(c, "/automations/bbb", url.Values{"csrf": {tok}, "name": {"x"}, "trigger": {center.ItemClosed}, "kind": {"send_email"}, "template": {"welcome"}})
	if r.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "action.to") {
		t.Errorf("an automation with no recipients: %s", r.Status)
	}
	f.update(func(tx *store.Tx) error {
		b, _ := center.GetAutomation(tx, center.BuiltinID)
		a, _ := center.GetAutomation(tx, "aaa")
		if b.Action.Text != "A new message for you." || a.Enabled {
			t.Errorf("built-in text %q, aaa enabled %v", b.Action.Text, a.Enabled)
		}
		return nil
	})
	if !f.hasAudit("alice", "automation.off", "aaa") {
		t.Error("disabling is not journaled")
	}
}

func TestLogFiltersPagingAndText(t *testing.T) {
	f := newFixture(t)
	f.update(func(tx *store.Tx) error {
		for i := range LogPageSize + 5 {
			e := &journal.Entry{Time: f.clk.Now(), Direction: journal.In, Status: journal.StatusReceived, Class: "human",
				EnvelopeFrom: "c@example.org", EnvelopeTo: []string{"support@example.test"}, Subject: "Printer " + string(rune('A'+i%26))}
			if i == 3 {
				e.Direction, e.Status, e.Subject, e.Reason = journal.Out, journal.StatusFailed, "Invoice", "550 mailbox unknown"
			}
			if err := journal.Append(tx, e); err != nil {
				return err
			}
		}
		return nil
	})
	c, _ := f.session("victor")
	_, body := f.get(c, "/log")
	if n := strings.Count(body, "<tr>") - 1; n != LogPageSize {
		t.Errorf("first page: %d rows, want %d", n, LogPageSize)
	}
	if !strings.Contains(body, `rel="next"`) {
		t.Fatal("no link to the older page")
	}
	_, body = f.get(c, "/log?direction=out&status=failed")
	contains(t, body, "Invoice", "550 mailbox unknown")
	if strings.Contains(body, "Printer") {
		t.Error("the direction filter let inbound lines through")
	}
	_, body = f.get(c, "/log?q=mailbox+UNKNOWN")
	if !strings.Contains(body, "Invoice") || strings.Contains(body, "Printer") {
		t.Error("free text does not select the failed line alone")
	}
	if r, _ := f.get(c, "/log?direction=sideways"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("bad direction: %s", r.Status)
	}
	r, body := f.get(c, "/log?partial=1")
	if r.StatusCode != http.StatusOK || strings.Contains(body, "<html") || !strings.Contains(body, "<tr>") {
		t.Errorf("partial rows: %s", r.Status)
	}
}

func TestAdminSocketAccounts(t *testing.T) {
	f := newFixture(t)
	h := (&admin.Operators{DB: f.db}).Handler()
	do := func(method, path, body string) (int, string) {
		req, _ := http.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
		rec := newRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	if code, body := do("POST", "/v1/operators", `{"name":"bob","role":"admin","password":"short"}`); code != 400 || !strings.Contains(body, `"field":"password"`) {
		t.Errorf("short password: %d %s", code, body)
	}
	if code, _ := do("POST", "/v1/operators", `{"name":"bob","role":"root","password":"long enough password"}`); code != 400 {
		t.Errorf("bad role: %d", code)
	}
	if code, _ := do("POST", "/v1/operators", `{"name":"bob","role":"admin","password":"long enough password"}`); code != 200 {
		t.Errorf("add: %d", code)
	}
	if code, _ := do("POST", "/v1/operators", `{"name":"bob","role":"admin","password":"long enough password"}`); code != 409 {
		t.Errorf("add twice: %d", code)
	}
	if code, body := do("GET", "/v1/operators", ""); code != 200 || !strings.Contains(body, `"bob"`) || strings.Contains(body, "hash") {
		t.Errorf("list: %d %s", code, body)
	}
	if r := f.login(f.client(), "bob", "long enough password"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("bob cannot log in: %s", r.Status)
	}
	if code, _ := do("DELETE", "/v1/operators/bob", ""); code != 200 {
		t.Errorf("remove: %d", code)
	}
	if code, _ := do("DELETE", "/v1/operators/bob", ""); code != 404 {
		t.Errorf("remove twice: %d", code)
	}
	if !f.hasAudit("cli", "operator.remove", "bob") {
		t.Error("the removal is not journaled")
	}
	if code, _ := do("GET", "/v1/why/nope", ""); code != 404 {
		t.Errorf("why of an unknown message: %d", code)
	}
}

// TestLogMarksEmailsNeedingAttention: an email kept for operators is
// marked in the log and its entry page, and the filter shows it alone.
func TestLogMarksEmailsNeedingAttention(t *testing.T) {
	f := newFixture(t)
	var kept string
	f.update(func(tx *store.Tx) error {
		for _, e := range []*journal.Entry{
			{Time: f.clk.Now(), Direction: journal.In, Status: journal.StatusReceived, Class: "human", Subject: "Normal",
				EnvelopeFrom: "ann@client.test", EnvelopeTo: []string{"support@example.test"}},
			{Time: f.clk.Now(), Direction: journal.In, Status: journal.StatusReceived, Class: "human", Subject: "Card",
				EnvelopeFrom: "mallory@evil.test", EnvelopeTo: []string{"support@example.test"},
				Attention: "ambiguous author: 2 From fields", Action: "kept for operators, attributed to no one: ambiguous author: 2 From fields"},
		} {
			if err := journal.Append(tx, e); err != nil {
				return err
			}
			kept = e.ID
		}
		return nil
	})
	c, _ := f.session("victor")
	_, body := f.get(c, "/log")
	if strings.Count(body, "needs attention</span>") != 1 {
		t.Errorf("want one marked row:\n%s", body)
	}
	_, body = f.get(c, "/log?attention=1")
	if !strings.Contains(body, "Card") || strings.Contains(body, "Normal") {
		t.Error("the attention filter does not select the kept email alone")
	}
	_, body = f.get(c, "/log/"+kept)
	contains(t, body, "Needs attention", "ambiguous author: 2 From fields")
}

// Issue 21, item 12: the success box shows a line chosen by key, never
// text from the URL.
func TestSuccessBoxShowsOnlyKnownLines(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("alice")
	for _, p := range []string{"/log?done=Re-enter+your+password+at+https://evil.test", "/queue?done=%3Cb%3Ehi%3C/b%3E", "/templates?done=retried%20x"} {
		_, body := f.get(c, p)
		if strings.Contains(body, `class="flash"`) || strings.Contains(body, "evil.test") || strings.Contains(body, "Re-enter") {
			t.Errorf("GET %s shows a success box or the URL's text", p)
		}
	}
	r, _ := f.post(c, "/templates/welcome/switch", url.Values{"csrf": {tok}, "enabled": {"off"}})
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || loc != "/templates?done=email-off" {
		t.Fatalf("switch: %s to %q, want 303 to /templates?done=email-off", r.Status, loc)
	}
	if _, body := f.get(c, loc); !strings.Contains(body, `class="flash" role="status">✔ The email is now off.`) {
		t.Errorf("GET %s does not show the line of its key", loc)
	}
}

// Issue 21, item 4: the doubling template of the issue, previewed by an
// admin through the real handler, is refused with its part and line, and
// the console answers the next request.
func TestDoublingDraftPreviewRefused(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("alice")
	text := `{{$x := printf "%01000000d" 0}}` + strings.Repeat(`{{$x = printf "%s%s" $x $x}}`, 12) + `{{len $x}}`
	r, body := f.post(c, "/templates/welcome/preview", url.Values{"csrf": {tok}, "subject": {"s"}, "text": {text}, "html": {"<p></p>"}})
	var a previewAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil || r.StatusCode != http.StatusUnprocessableEntity || a.Part != "text" || a.Line != 1 {
		t.Fatalf("preview of the doubling draft: %s %+v %v", r.Status, a, err)
	}
	if r, _ := f.get(c, "/templates/welcome"); r.StatusCode != http.StatusOK {
		t.Fatalf("the next page: %s", r.Status)
	}
}

// Every key the handlers pass to done has its line.
func TestEveryFlashKeyHasALine(t *testing.T) {
	for _, key := range []string{"automation-saved", "automation-on", "automation-off", "automation-deleted", "retried", "cancelled",
		"template-saved", "template-reset", "email-on", "email-off"} {
		if flashes[key] == "" {
			t.Errorf("no line for %q", key)
		}
	}
}
