package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/internal/waitfor"
)

// The built binary end to end: mail to the support address opens a
// conversation, `deskmail log --json` says which and how, and after the
// daemon stops `deskmail explain --json --data` threads a reply that only
// carries References into that conversation.
func TestServeThreadsAndExplainAgrees(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	sendOne(t, d.SMTP, message("<open-1@client.test>", "Printer on fire", 300))
	var conv string
	waitfor.Until(t, lineTimeout, "the email is threaded (its journal entry names the conversation)", func() bool {
		r := runCLI(t, nil, nil, "log", "--json", "--data", dir, "--hours", "1")
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			var e struct {
				MessageID    string `json:"message_id"`
				Conversation string `json:"conversation"`
				Action       string `json:"action"`
				ThreadBy     string `json:"thread_by"`
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.MessageID == "<open-1@client.test>" && e.ThreadBy != "" {
				if e.ThreadBy != "new" || !strings.HasPrefix(e.Action, "created conversation "+e.Conversation) {
					t.Fatalf("journal: by %q, action %q", e.ThreadBy, e.Action)
				}
				conv = e.Conversation
			}
		}
		return conv != ""
	})
	d.stop()

	reply := filepath.Join(t.TempDir(), "reply.eml")
	raw := "From: customer@client.test\r\nTo: anything@example.test\r\nSubject: Re: Printer on fire\r\n" +
		"References: <open-1@client.test>\r\n\r\nStill burning.\r\n"
	if err := os.WriteFile(reply, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, nil, "explain", "--json", "--data", dir, reply)
	var out struct {
		Class  string
		Thread struct {
			Conversation *string
			By           string
		}
	}
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || r.Code != 0 {
		t.Fatalf("explain: exit %d, %v\n%s%s", r.Code, err, r.Stdout, r.Stderr)
	}
	if out.Thread.Conversation == nil || *out.Thread.Conversation != conv || out.Thread.By != "references" {
		t.Errorf("explain thread = %+v, want %s by references\n%s", out.Thread, conv, r.Stdout)
	}
}
