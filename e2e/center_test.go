package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestSystemEmailsThroughTheDaemon is the messaging center as an admin
// and the web app use it: the CLI switches system emails over the control
// socket (password_reset refuses), and events posted to the API come out
// of the relay, once, with Auto-Submitted.
func TestSystemEmailsThroughTheDaemon(t *testing.T) {
	dir := t.TempDir()
	sink := newSMTPSink(t)
	seed(t, dir, time.Second, nil).Close()
	d := startDaemon(t, dir, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure")

	r := runCLI(t, nil, nil, "templates", "disable", "password_reset", "--data", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, "cannot be switched off") {
		t.Errorf("templates disable password_reset: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if r := runCLI(t, nil, nil, "templates", "disable", "welcome", "--data", dir); r.Code != 0 {
		t.Fatalf("templates disable welcome: %s", r.Stderr)
	}
	r = runCLI(t, strings.NewReader("Subject: x\n--- text\n{{.Nope}}\n--- html\n<p></p>\n"), nil, "templates", "edit", "password_reset", "--file", "-", "--data", dir)
	if r.Code == 0 || !strings.Contains(r.Stderr, "line 1") {
		t.Errorf("a bad template: exit %d, stderr %q", r.Code, r.Stderr)
	}
	// A notification without the reply marker is saved, with a warning.
	r = runCLI(t, strings.NewReader("Subject:\n--- text\nHello {{.RecipientName}}\n--- html\n<p>##- Please type your reply above this line -##</p>\n"),
		nil, "templates", "edit", "notification", "--file", "-", "--data", dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "saved as version 1") || !strings.Contains(r.Stdout, "warning: text: the reply marker line") {
		t.Errorf("notification without the marker: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}

	api(t, d, "POST", "/v1/events", `{"id":"ev-1","type":"user.created","person":"agent","link":"https://app.test/signin"}`)
	reset := `{"id":"ev-2","type":"password.reset_requested","person":"agent","link":"https://app.test/reset?t=1"}`
	first := api(t, d, "POST", "/v1/events", reset)
	second := api(t, d, "POST", "/v1/events", reset)
	if first["duplicate"] != false || second["duplicate"] != true {
		t.Errorf("first %v, second %v", first, second)
	}
	got := sink.wait(t, 1)
	h := got[0].msg.Header
	if got[0].to != "agent@example.test" || h.Get("Auto-Submitted") != "auto-generated" || !strings.Contains(h.Get("Subject"), "Reset your") {
		t.Errorf("email to %s, header %v", got[0].to, h)
	}
	d.stop()
	// One email queued and sent in all: welcome is off, the reset went once.
	if st := outStatuses(t, dir); strings.Join(st, ",") != "queued,sending,sent" {
		t.Errorf("log --direction out: %q", st)
	}
}
