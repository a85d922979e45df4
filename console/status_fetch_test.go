package console

import (
	"strings"
	"testing"
	"time"
)

// The status page lists the IMAP mailboxes with their state; a failing
// one shows the error and how many failures in a row.
func TestStatusShowsMailboxes(t *testing.T) {
	f := newFixture(t)
	f.s.Daemon = func() DaemonInfo {
		return DaemonInfo{Started: f.clk.Now(), Mailboxes: func() []MailboxInfo {
			return []MailboxInfo{
				{Name: "m365", State: "idle", Fetched: 12, LastOK: f.clk.Now().Add(-time.Minute)},
				{Name: "hosted", State: "failing", Failures: 3, Error: "login as help@example.org: Authentication failed."},
				{Name: "gmail", State: "standby", Owner: "node-b"},
			}
		}}
	}
	c, _ := f.session("victor")
	resp, body := f.get(c, "/status")
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{"IMAP mailboxes", "m365", "idle", "⚠ failing (3 in a row)", "login as help@example.org: Authentication failed.", "standby: fetched by node-b"} {
		if !strings.Contains(body, want) {
			t.Errorf("the status page lacks %q", want)
		}
	}
}
