package fetch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/fetch/imaptest"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// fixture is a Dovecot, a bbolt store and a Receiver; run starts a
// Fetcher on them.
type fixture struct {
	t    testing.TB
	imap *imaptest.Server
	db   *store.DB
	recv *inbound.Receiver
	clk  clock.Clock
}

func newFixture(t *testing.T, opts imaptest.Options) *fixture { return newFixtureTB(t, opts) }

func newFixtureTB(t testing.TB, opts imaptest.Options) *fixture {
	t.Helper()
	s := imaptest.Start(t, opts)
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	f := &fixture{t: t, imap: s, db: db, clk: clock.Real{}}
	f.recv = &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "desk.test"}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dovecot log:\n%s", s.Log())
		}
	})
	return f
}

// mailbox is the test user's folder over plain IMAP on loopback.
func (f *fixture) mailbox(mod func(*Settings)) *Mailbox {
	f.t.Helper()
	u := url.URL{Scheme: "imap", User: url.UserPassword(f.imap.User, f.imap.Password), Host: f.imap.Addr, Path: "/INBOX"}
	s := Settings{Name: "support", URL: u.String(), To: "support@desk.test"}
	if mod != nil {
		mod(&s)
	}
	m, err := s.Mailbox("")
	if err != nil {
		f.t.Fatal(err)
	}
	return m
}

// run starts a Fetcher (mod may change it) and returns its stop.
func (f *fixture) run(m *Mailbox, mod func(*Fetcher)) (*Fetcher, func()) {
	f.t.Helper()
	fe := &Fetcher{DB: f.db, Receiver: f.recv, Clock: f.clk, Log: testLog(f.t), Owner: "node-a",
		Mailboxes: []*Mailbox{m}, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond}
	if mod != nil {
		mod(fe)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); fe.Run(ctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	f.t.Cleanup(stop)
	return fe, stop
}

func testLog(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// received lists the journal's received entries, oldest first.
func (f *fixture) received() []journal.Entry {
	f.t.Helper()
	es, err := journal.Query(context.Background(), f.db, journal.Filter{Direction: journal.In, Status: journal.StatusReceived, Limit: 100000})
	if err != nil {
		f.t.Fatal(err)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].ID < es[j].ID })
	return es
}

// waitUntil: the fetcher runs on its own goroutines against a real
// server.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitfor.Until(t, 30*time.Second, what, cond)
}

func message(i int, subject string) []byte {
	return fmt.Appendf(nil, "Return-Path: <ann%d@client.test>\r\nFrom: Ann <ann%d@client.test>\r\nTo: support@desk.test\r\nSubject: %s\r\nMessage-ID: <m%d-%s@client.test>\r\nDate: Mon, 7 Dec 2026 01:00:00 +0000\r\n\r\nHello %d\r\n",
		i, i, subject, i, url.PathEscape(subject), i)
}

func journalRejected(f *fixture) ([]journal.Entry, error) {
	return journal.Query(context.Background(), f.db, journal.Filter{Direction: journal.In, Status: journal.StatusRejected, Limit: 1000})
}
