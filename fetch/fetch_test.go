package fetch

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/deskmail/deskmail/clock"

	"github.com/deskmail/deskmail/fetch/imaptest"
)

func TestFetchStoresThenMoves(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	f.imap.Append("INBOX", message(1, "printer"), message(2, "scanner"))
	fe, _ := f.run(f.mailbox(nil), nil)
	waitUntil(t, "both messages are moved", func() bool { return f.imap.Count(DefaultFolder) == 2 })
	if n := f.imap.Count("INBOX"); n != 0 {
		t.Fatalf("INBOX has %d messages left", n)
	}
	es := f.received()
	if len(es) != 2 {
		t.Fatalf("journal has %d received entries, want 2", len(es))
	}
	for i, e := range es {
		if !strings.Contains(e.Via, "IMAP support: INBOX uid") || e.EnvelopeTo[0] != "support@desk.test" {
			t.Errorf("entry %d: via %q to %v", i, e.Via, e.EnvelopeTo)
		}
		if want := []string{"ann1@client.test", "ann2@client.test"}[i]; e.EnvelopeFrom != want {
			t.Errorf("entry %d: envelope from %q, want %q (Return-Path)", i, e.EnvelopeFrom, want)
		}
	}
	// A message appended later is delivered through IDLE.
	f.imap.Append("INBOX", message(3, "fax"))
	waitUntil(t, "the third message is stored", func() bool { return len(f.received()) == 3 })
	waitUntil(t, "the status says idle", func() bool { return fe.Statuses()[0].State == "idle" })
	if st := fe.Statuses()[0]; st.Fetched != 3 {
		t.Fatalf("status %+v, want 3 fetched", st)
	}
}

func TestFetchAfterSeenAndDelete(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	f.imap.Append("INBOX", message(1, "one"))
	_, stop := f.run(f.mailbox(func(s *Settings) { s.After = "seen" }), nil)
	waitUntil(t, "the message is flagged seen", func() bool {
		fl := f.imap.Flags("INBOX")
		return len(fl) == 1 && strings.Contains(strings.Join(fl[0], " "), `\Seen`)
	})
	stop()
	if len(f.received()) != 1 {
		t.Fatal("not stored once")
	}
	// Still there and seen: a restart does not take it again (the mark).
	f.imap.Append("INBOX", message(2, "two"))
	_, stop = f.run(f.mailbox(func(s *Settings) { s.After = "delete" }), nil)
	waitUntil(t, "the second message is deleted", func() bool { return f.imap.Count("INBOX") == 1 })
	stop()
	if n := len(f.received()); n != 2 {
		t.Fatalf("%d stored, want 2", n)
	}
}

// A crash after the commit and before the move: the next run moves the
// message without storing it again.
func TestCrashBetweenCommitAndMove(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	f.imap.Append("INBOX", message(1, "a"), message(2, "b"), message(3, "c"))
	crashed := make(chan struct{})
	_, stop := f.run(f.mailbox(nil), func(fe *Fetcher) {
		fe.afterStore = func(ctx context.Context, m *Mailbox, uid uint32) error {
			if uid == 2 {
				// The process dies here: nothing more is done on the
				// server, nothing more is stored.
				close(crashed)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
	})
	<-crashed
	stop()
	if n := f.imap.Count(DefaultFolder); n != 0 {
		t.Fatalf("%d moved before the crash, want 0 (moves come after their batch)", n)
	}
	if n := len(f.received()); n < 2 {
		t.Fatalf("%d stored before the crash, want at least 2", n)
	}
	f.run(f.mailbox(nil), nil) // the restarted process
	waitUntil(t, "all three are moved", func() bool { return f.imap.Count(DefaultFolder) == 3 })
	if n := len(f.received()); n != 3 {
		t.Fatalf("%d stored, want 3 (each once)", n)
	}
}

// A new UIDVALIDITY: the folder is read again and nothing is stored
// twice (the inbound dedupe knows the messages).
func TestUIDValidityReset(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	m := f.mailbox(func(s *Settings) { s.URL = strings.Replace(s.URL, "/INBOX", "/Support", 1); s.After = "seen" })
	f.imap.Append("Support", message(1, "a"), message(2, "b"))
	_, stop := f.run(m, nil)
	waitUntil(t, "two are stored", func() bool { return len(f.received()) == 2 })
	waitUntil(t, "both are seen", func() bool { return seenCount(f.imap.Flags("Support")) == 2 })
	stop()
	old := f.imap.UIDValidity("Support")
	f.imap.Recreate("Support")
	if f.imap.UIDValidity("Support") == old {
		t.Fatal("UIDVALIDITY did not change")
	}
	f.imap.Append("Support", message(1, "a"), message(2, "b"), message(3, "c"))
	f.run(m, nil)
	waitUntil(t, "all three are seen", func() bool { return seenCount(f.imap.Flags("Support")) == 3 })
	if n := len(f.received()); n != 3 {
		t.Fatalf("%d stored, want 3", n)
	}
}

func seenCount(flags [][]string) int {
	n := 0
	for _, fl := range flags {
		if strings.Contains(strings.Join(fl, " "), `\Seen`) {
			n++
		}
	}
	return n
}

// Dovecot stopped mid-way and started again: the fetcher reconnects and
// goes on; the failure shows in the status meanwhile.
func TestReconnectAfterServerRestart(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	f.imap.Append("INBOX", message(1, "a"))
	fe, _ := f.run(f.mailbox(nil), nil)
	waitUntil(t, "the first is moved", func() bool { return f.imap.Count(DefaultFolder) == 1 })
	f.imap.Stop()
	waitUntil(t, "the mailbox is failing", func() bool { return fe.Statuses()[0].Failing() })
	f.imap.Start()
	f.imap.Append("INBOX", message(2, "b"))
	waitUntil(t, "the second is moved", func() bool { return f.imap.Count(DefaultFolder) == 2 })
	waitUntil(t, "the mailbox is well again", func() bool { return !fe.Statuses()[0].Failing() })
	if n := len(f.received()); n != 2 {
		t.Fatalf("%d stored, want 2", n)
	}
}

// A wrong password: reported in the status, retried with a doubling,
// capped backoff on the (fake) clock.
func TestWrongPasswordReportedAndRetried(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	f.clk = clk
	m := f.mailbox(func(s *Settings) { s.URL = strings.Replace(s.URL, f.imap.Password, "wrong", 1) })
	fe, _ := f.run(m, func(fe *Fetcher) { fe.BackoffMin, fe.BackoffMax = time.Second, 8*time.Second })
	for n, want := range []time.Duration{1, 2, 4, 8, 8} {
		waitUntil(t, fmt.Sprintf("failure %d", n+1), func() bool { return fe.Statuses()[0].Failures == n+1 })
		st := fe.Statuses()[0]
		if !st.Failing() || !strings.Contains(st.Error, "login as desk@example.test") {
			t.Fatalf("status %+v", st)
		}
		if got := st.NextTry.Sub(clk.Now()); got != want*time.Second {
			t.Fatalf("failure %d: next try in %v, want %v", n+1, got, want*time.Second)
		}
		clk.Advance(want*time.Second - time.Millisecond)
		if fe.Statuses()[0].Failures != n+1 {
			t.Fatalf("retried before the backoff ended")
		}
		clk.Advance(time.Millisecond)
	}
	if got := testutil.ToFloat64(metricFailing.WithLabelValues("support")); got != 1 {
		t.Fatalf("deskmail_fetch_failing = %v, want 1", got)
	}
}
