package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/intake"
)

// `deskmail conversations list|show` read a conversation from the
// terminal, through the running daemon and offline alike (issue 22).
func TestConversationsFromTheTerminal(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	c, err := smtp.Dial(d.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := "From: Ann Lee <ann@client.test>\r\nTo: support@example.test\r\nSubject: Printer on fire\r\n" +
		"Message-ID: <conv-cli@client.test>\r\n\r\nIt is still burning.\r\n\r\n" +
		"On Mon, 7 Dec 2026 at 10:00, Support <support@example.test> wrote:\r\n> Did you try water?\r\n"
	if err := c.SendMail("ann@client.test", []string{"support@example.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	var list []intake.ConversationSummary
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := runCLI(t, nil, nil, "conversations", "list", "--json", "--data", dir)
		if r.Code != 0 {
			t.Fatalf("conversations list: %s", r.Stderr)
		}
		if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
			t.Fatalf("%v: %s", err, r.Stdout)
		}
		if len(list) == 1 && list[0].Messages == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("conversations: %+v", list)
		}
		time.Sleep(50 * time.Millisecond) // polling a running daemon; bounded above
	}
	id := list[0].ID
	if list[0].Subject != "Printer on fire" || list[0].Created.IsZero() {
		t.Errorf("summary %+v", list[0])
	}
	check := func(how string) {
		t.Helper()
		r := runCLI(t, nil, nil, "conversations", "show", id, "--data", dir)
		for _, want := range []string{"conversation " + id + " (external)", "subject: Printer on fire", "1 message\n",
			"by Ann Lee <ann@client.test>  via email", "It is still burning.", "cut as quoted:", "> Did you try water?"} {
			if r.Code != 0 || !strings.Contains(r.Stdout, want) {
				t.Errorf("%s: conversations show lacks %q (exit %d):\n%s%s", how, want, r.Code, r.Stdout, r.Stderr)
			}
		}
		r = runCLI(t, nil, nil, "conversations", "show", id, "--json", "--data", dir)
		var det intake.ConversationDetail
		if err := json.Unmarshal([]byte(r.Stdout), &det); err != nil || len(det.Messages) != 1 ||
			det.Messages[0].Author == "" || det.Messages[0].Channel != "email" || det.Messages[0].Created.IsZero() ||
			!strings.Contains(det.Messages[0].Quoted, "Did you try water?") || strings.Contains(det.Messages[0].Text, "water") {
			t.Errorf("%s: --json: %v %+v", how, err, det)
		}
		if r := runCLI(t, nil, nil, "conversations", "show", "nosuchconversation", "--data", dir); r.Code == 0 || !strings.Contains(r.Stderr, "nosuchconversation") {
			t.Errorf("%s: unknown ID: exit %d, %q", how, r.Code, r.Stderr)
		}
	}
	check("through the daemon")
	d.stop()
	check("offline")
}
