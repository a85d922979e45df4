package e2e

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/fetch"
	"github.com/deskmail/deskmail/fetch/imaptest"
	"github.com/deskmail/deskmail/internal/waitfor"
)

// imapURL is the test user's INBOX on a test Dovecot, password included
// (tests only).
func imapURL(s *imaptest.Server) string {
	return (&url.URL{Scheme: "imap", User: url.UserPassword(s.User, s.Password), Host: s.Addr, Path: "/INBOX"}).String()
}

// Messages appended to the mailbox reach their conversations (a reply by
// References into the first one's) and are moved on the server only then.
func TestFetchIntoConversations(t *testing.T) {
	s := imaptest.Start(t, imaptest.Options{})
	p := startInProcess(t, fakeDNS{}, "--fetch", imapURL(s))
	first := email("fetch-1@client.test", []string{"From: Ann <ann@client.test>", "To: support@example.test", "Subject: Printer on fire"}, "Help!")
	s.Append("INBOX", []byte(strings.ReplaceAll(first, "\n", "\r\n")))
	e := p.entry(t, "fetch-1@client.test")
	if e.Conversation == "" || !strings.HasPrefix(e.Via, "IMAP ") || !strings.Contains(e.Via, "INBOX uid 1") {
		t.Fatalf("entry %+v: want a conversation and via IMAP ... INBOX uid 1", e)
	}
	reply := email("fetch-2@client.test", []string{"From: Ann <ann@client.test>", "To: support@example.test",
		"Subject: Re: Printer on fire", "In-Reply-To: <fetch-1@client.test>", "References: <fetch-1@client.test>"}, "Still burning.")
	s.Append("INBOX", []byte(strings.ReplaceAll(reply, "\n", "\r\n")))
	e2 := p.entry(t, "fetch-2@client.test")
	if e2.Conversation != e.Conversation {
		t.Fatalf("the reply went to %q, want %q", e2.Conversation, e.Conversation)
	}
	if ms := p.messages(t, e.Conversation); len(ms) != 2 {
		t.Fatalf("conversation has %d messages, want 2", len(ms))
	}
	waitFor(t, "both are moved", func() bool { return s.Count(fetch.DefaultFolder) == 2 && s.Count("INBOX") == 0 })
	// The status follows the sync that moved them.
	waitFor(t, "the status counts two", func() bool { st := p.d.Fetcher.Statuses(); return len(st) == 1 && st[0].Fetched == 2 })
	if st := p.d.Fetcher.Statuses(); st[0].Failing() {
		t.Fatalf("statuses %+v", st)
	}
}

// SIGKILL while a mailbox of several hundred messages is fetched (stored
// in batches, moved after each batch): restarted, every message is stored
// exactly once and all end up moved.
func TestFetchSIGKILLStoresEachOnce(t *testing.T) {
	const total = 300
	s := imaptest.Start(t, imaptest.Options{})
	msgs := make([][]byte, total)
	for i := range msgs {
		msgs[i] = message(fmt.Sprintf("<kill-%d@client.test>", i), "fetched", 2<<10)
	}
	s.Append("INBOX", msgs...)
	dir := t.TempDir()
	d := startDaemon(t, dir, "--fetch", imapURL(s), "--log-level", "debug")
	// Kill in the middle of a batch: stored, not yet moved.
	n := 0
	for range 150 {
		n = d.waitLog(n, `msg="message stored"`)
	}
	d.kill()
	if moved := s.Count(fetch.DefaultFolder); moved >= total {
		t.Fatalf("all %d moved before the kill: the kill came too late to test anything", moved)
	}
	d = startDaemon(t, dir, "--fetch", imapURL(s))
	waitFor(t, "every message is moved", func() bool { return s.Count(fetch.DefaultFolder) == total })
	got := receivedByMessageID(readLog(t, dir))
	for i := range total {
		if id := fmt.Sprintf("<kill-%d@client.test>", i); got[id] != 1 {
			t.Errorf("%s is in the log %d times, want 1", id, got[id])
		}
	}
	d.stop()
}

// waitFor: the daemon works on its own.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitfor.Until(t, 30*time.Second, what, cond)
}
