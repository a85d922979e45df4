package fetch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/fetch/imaptest"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// With a poll of an hour, only IDLE can bring a new message in.
func TestIdleDeliversWithoutPolling(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	fe, _ := f.run(f.mailbox(func(s *Settings) { s.Poll = "1h" }), nil)
	waitUntil(t, "the mailbox idles", func() bool { return fe.Statuses()[0].State == "idle" })
	for i := range 3 {
		f.imap.Append("INBOX", message(i, "idle"))
		waitUntil(t, fmt.Sprintf("message %d is stored", i), func() bool { return len(f.received()) == i+1 })
	}
}

// A server without IDLE is polled every `poll` (on the fake clock).
func TestPollWithoutIdle(t *testing.T) {
	f := newFixture(t, imaptest.Options{NoIdle: true})
	clk := clock.NewFake(time.Now())
	f.clk = clk
	fe, _ := f.run(f.mailbox(func(s *Settings) { s.Poll = "30s" }), nil)
	waitUntil(t, "the mailbox polls", func() bool { return fe.Statuses()[0].State == "polling" })
	f.imap.Append("INBOX", message(1, "poll"))
	// Parked on the clock: the lease renewal and the poll.
	waitUntil(t, "the fetcher waits for the poll", func() bool { return clk.Waiters() >= 2 })
	if n := len(f.received()); n != 0 {
		t.Fatalf("%d stored before the poll", n)
	}
	clk.Advance(30 * time.Second)
	waitUntil(t, "the message is stored after the poll", func() bool { return len(f.received()) == 1 })
}

// imaps:// verifies the certificate: a self-signed one fails (and says
// so) until its CA is given; STARTTLS is used on imap:// when offered.
func TestTLS(t *testing.T) {
	f := newFixture(t, imaptest.Options{TLS: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, f.imap.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	imaps := func(s *Settings) {
		s.Name = "imaps"
		s.URL = strings.Replace(strings.Replace(s.URL, "imap://", "imaps://", 1), f.imap.Addr, f.imap.TLSAddr, 1)
	}
	fe, stop := f.run(f.mailbox(imaps), nil)
	waitUntil(t, "the unverified mailbox fails", func() bool { return fe.Statuses()[0].Failing() })
	if st := fe.Statuses()[0]; !strings.Contains(st.Error, "certificate") {
		t.Fatalf("status %+v: want a certificate error", st)
	}
	stop()
	f.imap.Append("INBOX", message(1, "tls"))
	f.run(f.mailbox(func(s *Settings) { imaps(s); s.TLSCAFile = ca }), nil)
	waitUntil(t, "stored over imaps", func() bool { return len(f.received()) == 1 })
	f.imap.Append("INBOX", message(2, "starttls"))
	f.run(f.mailbox(func(s *Settings) { s.Name = "starttls"; s.TLSCAFile = ca }), nil)
	waitUntil(t, "stored over STARTTLS", func() bool { return len(f.received()) == 2 })
	for _, e := range f.received() {
		if e.Proto != "IMAPS" {
			t.Errorf("%s came with proto %q, want IMAPS", e.MessageID, e.Proto)
		}
	}
}

// A large mailbox: only what arrived since `since` is fetched, oldest
// first, in batches; the older mail stays where it is.
func TestLargeMailboxSince(t *testing.T) {
	const old, recent = 1000, 1000
	f := newFixture(t, imaptest.Options{})
	var msgs [][]byte
	for i := range old {
		msgs = append(msgs, message(i, "old"))
	}
	f.imap.Fill("INBOX", time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC), msgs...)
	msgs = msgs[:0]
	for i := range recent {
		msgs = append(msgs, message(old+i, "recent"))
	}
	f.imap.Fill("INBOX", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), msgs...)
	f.run(f.mailbox(func(s *Settings) { s.Since = "2026-10-01" }), func(fe *Fetcher) { fe.Batch = 100 })
	waitUntil(t, "the recent ones are moved", func() bool { return f.imap.Count(DefaultFolder) == recent })
	es := f.received()
	if len(es) != recent {
		t.Fatalf("%d stored, want %d", len(es), recent)
	}
	if n := f.imap.Count("INBOX"); n != old {
		t.Fatalf("%d left in INBOX, want the %d old ones", n, old)
	}
	for _, e := range es {
		if e.Subject != "recent" {
			t.Fatalf("stored an old message: %+v", e)
		}
	}
}

// A message over the size limit is logged and left on the server, and
// never fetched again.
func TestTooLargeLeftOnServer(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	big := append(message(1, "big"), strings.Repeat("x", 4000)...)
	f.imap.Append("INBOX", big, message(2, "small"))
	fe, stop := f.run(f.mailbox(nil), func(fe *Fetcher) { fe.MaxMessageBytes = 2000 })
	waitUntil(t, "the small one is moved", func() bool { return f.imap.Count(DefaultFolder) == 1 })
	waitUntil(t, "idle", func() bool { return fe.Statuses()[0].State == "idle" })
	stop()
	f.run(f.mailbox(nil), func(fe *Fetcher) { fe.MaxMessageBytes = 2000 })
	f.imap.Append("INBOX", message(3, "after"))
	waitUntil(t, "the third is moved", func() bool { return f.imap.Count(DefaultFolder) == 2 })
	if n := f.imap.Count("INBOX"); n != 1 {
		t.Fatalf("%d in INBOX, want the big one", n)
	}
	rejected := 0
	es, _ := journalRejected(f)
	for _, e := range es {
		if strings.Contains(e.Reason, "too large") && e.Attention == e.Reason && strings.Contains(e.Via, "uid 1 ") {
			rejected++
		}
	}
	if rejected != 1 {
		t.Fatalf("%d too-large entries for uid 1, want 1 (logged once, never fetched again): %+v", rejected, es)
	}
}

// Two nodes on PostgreSQL: one fetches, dies mid-batch without a clean
// stop; the other takes the mailbox over once the lease expires, and
// every message is stored once.
func TestTwoNodesTakeOver(t *testing.T) {
	const total = 40
	url := pgtest.NewDatabase(t)
	openDB := func() *store.DB {
		db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	f := newFixture(t, imaptest.Options{})
	var msgs [][]byte
	for i := range total {
		msgs = append(msgs, message(i, "two nodes"))
	}
	f.imap.Append("INBOX", msgs...)
	nodeA := &fixture{t: t, imap: f.imap, db: openDB(), clk: clock.Real{}}
	nodeA.recv = &inbound.Receiver{DB: nodeA.db, Clock: clock.Real{}, Hostname: "a.test"}
	nodeB := &fixture{t: t, imap: f.imap, db: openDB(), clk: clock.Real{}}
	nodeB.recv = &inbound.Receiver{DB: nodeB.db, Clock: clock.Real{}, Hostname: "b.test"}
	lease := func(fe *Fetcher) { fe.LeaseFor = 2 * time.Second; fe.Batch = 16 }
	died := make(chan struct{})
	_, stopA := nodeA.run(f.mailbox(nil), func(fe *Fetcher) {
		lease(fe)
		fe.afterStore = func(_ context.Context, _ *Mailbox, uid uint32) error {
			if uid == 20 {
				close(died)
				return errDied
			}
			return nil
		}
	})
	<-died
	stopA()
	stoodA := len(nodeA.received())
	if stoodA < 20 || stoodA >= total {
		t.Fatalf("node A stored %d before it died, want 20 to %d", stoodA, total-1)
	}
	feB, _ := nodeB.run(f.mailbox(nil), func(fe *Fetcher) { lease(fe); fe.Owner = "node-b" })
	waitUntil(t, "node B has moved everything", func() bool { return f.imap.Count(DefaultFolder) == total })
	if n := len(nodeB.received()); n != total {
		t.Fatalf("%d stored in all, want %d (each once)", n, total)
	}
	// The status follows the sync that moved the last ones.
	waitUntil(t, "node B's status counts what it fetched", func() bool { return feB.Statuses()[0].Fetched == int64(total-stoodA) })
}

// A message expunged by someone else between the search and the fetch
// of its body is simply not there: the others are stored and moved, and
// the mark goes past it.
func TestExpungedMeanwhile(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	f.imap.Append("INBOX", message(1, "a"), message(2, "b"), message(3, "c"))
	var once sync.Once
	f.run(f.mailbox(nil), func(fe *Fetcher) {
		fe.beforeBodies = func(uids []uint32) {
			once.Do(func() {
				c := f.imap.Client()
				defer c.Logout()
				if _, err := c.Select("INBOX", false); err != nil {
					t.Error(err)
					return
				}
				set := new(imap.SeqSet)
				set.AddNum(2)
				if err := c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []interface{}{imap.DeletedFlag}, nil); err != nil {
					t.Error(err)
				}
				if err := c.Expunge(nil); err != nil {
					t.Error(err)
				}
			})
		}
	})
	waitUntil(t, "the two others are moved", func() bool { return f.imap.Count(DefaultFolder) == 2 })
	es := f.received()
	if len(es) != 2 || es[0].Subject != "a" || es[1].Subject != "c" {
		t.Fatalf("stored %+v, want a and c", es)
	}
	waitUntil(t, "the mark is past uid 3", func() bool {
		marks, err := Marks(context.Background(), f.db)
		return err == nil && marks["support"].Next == 4
	})
}
