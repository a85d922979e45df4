package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

func TestPipelineClassifiesIntoTheJournal(t *testing.T) {
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test"}
	cases := []struct {
		file, from string
		class      loopguard.Class
		action     string
	}{
		{"34-human-gmail-plain.eml", "ann@gmail.test", loopguard.Human, "stored; may notify"},
		{"01-gmail-vacation.eml", "bob@gmail.test", loopguard.AutoReply, "no notification"},
		{"24-postfix-dsn-user-unknown.eml", "", loopguard.Bounce, "bounce recorded"},
		{"19-mailman-announcement.eml", "list-bounces@lists.test", loopguard.Bulk, "no notification"},
	}
	for _, c := range cases {
		raw, err := os.ReadFile("../loopguard/testdata/" + c.file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: c.from,
			Rcpts: []string{"help@example.test"}, Proto: "ESMTP"}, strings.NewReader(string(raw))); err != nil {
			t.Fatal(err)
		}
	}
	secret, err := intake.LoadOrCreateSecret(dir + "/" + intake.LoopSecretFile)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := intake.LoadOrCreateSecret(dir + "/" + intake.LoopSecretFile)
	if string(again) != string(secret) {
		t.Error("the secret changed between starts")
	}
	cl := &intake.Classifier{DB: db, Clock: clock.NewFake(time.Now()), Guard: loopguard.New(loopguard.Options{Secrets: [][]byte{secret}})}
	p := &Pipeline{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Step: cl.Step}
	runUntilDrained(t, p, db)
	es, _ := journal.Query(context.Background(), db, journal.Filter{})
	if len(es) != len(cases) {
		t.Fatalf("%d entries", len(es))
	}
	for i, c := range cases {
		e := es[i]
		if e.Class != string(c.class) || !strings.Contains(e.Action, c.action) || len(e.Reasons) == 0 && c.class != loopguard.Human {
			t.Errorf("%s: class %q action %q reasons %v; want %s, %q", c.file, e.Class, e.Action, e.Reasons, c.class, c.action)
		}
		m, _ := inbound.Load(context.Background(), db, e.StoredID)
		if m.Class != string(c.class) {
			t.Errorf("%s: stored class %q", c.file, m.Class)
		}
	}
	if got, _ := journal.Query(context.Background(), db, journal.Filter{Class: "bounce"}); len(got) != 1 {
		t.Errorf("class filter: %d bounces", len(got))
	}
}

func TestRateLimitMakesAFloodLooping(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	recv := &inbound.Receiver{DB: db, Clock: clk, Hostname: "mx.test"}
	cl := &intake.Classifier{DB: db, Clock: clk, Guard: loopguard.New(loopguard.Options{RateLimit: 3, RateWindow: 10 * time.Minute})}
	classes := func(rcpt string, n int) []string {
		var out []string
		for i := 0; i < n; i++ {
			msg := "From: Robot <robot@client.test>\r\nSubject: hi\r\nMessage-ID: <" + rcpt + string(rune('a'+i)) + "@x>\r\n\r\nhello\r\n"
			rc, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: "robot@client.test",
				Rcpts: []string{rcpt}, Proto: "ESMTP"}, strings.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			m, _ := inbound.Load(context.Background(), db, rc.ID)
			res, err := cl.Step(context.Background(), m)
			if err != nil {
				t.Fatal(err)
			}
			db.Update(context.Background(), res.Apply)
			m, _ = inbound.Load(context.Background(), db, rc.ID)
			out = append(out, m.Class)
		}
		return out
	}
	if got := strings.Join(classes("help@example.test", 5), ","); got != "human,human,human,looping,looping" {
		t.Errorf("flood on one address: %s", got)
	}
	if got := strings.Join(classes("sales@example.test", 1), ","); got != "human" {
		t.Errorf("another conversation is not limited: %s", got)
	}
	clk.Advance(10 * time.Minute)
	if got := strings.Join(classes("help@example.test", 1), ","); got != "human" {
		t.Errorf("after the window: %s", got)
	}
}

// A step that fails leaves its message pending and is tried again; a
// message whose journal entry was pruned still leaves the pending list.
func TestPipelineRetriesFailedStepAndSurvivesPrunedEntry(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test"}
	for _, id := range []string{"a", "b"} {
		if _, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: "x@y.test", Rcpts: []string{"help@example.test"}},
			strings.NewReader("Message-ID: <"+id+"@x>\r\n\r\nbody\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	// The journal entries are pruned before the pipeline runs (a backlog
	// older than the retention).
	if n, err := journal.Prune(context.Background(), db, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("pruned %d %v", n, err)
	}
	calls := map[string]int{}
	var mu sync.Mutex
	p := &Pipeline{DB: db, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		RetryBase: time.Millisecond, RetryMax: time.Millisecond,
		Step: func(_ context.Context, m inbound.Meta) (intake.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			calls[m.MessageID]++
			if m.MessageID == "<a@x>" && calls[m.MessageID] < 3 {
				return intake.Result{}, errors.New("too many open files")
			}
			return intake.Result{Apply: func(tx *store.Tx) error {
				return intake.UpdateEntry(tx, m.JournalID, func(e *journal.Entry) { e.Action = "done" })
			}}, nil
		}}
	runUntilDrained(t, p, db)
	// b shares its sender with a, so it is committed after a: it may have
	// been prepared more than once while a was retried.
	if calls["<a@x>"] != 3 || calls["<b@x>"] < 1 {
		t.Errorf("calls = %v, want a thrice (two failures), b at least once", calls)
	}
}

// runUntilDrained runs the pipeline until no message is pending (bounded),
// then stops it.
func runUntilDrained(t *testing.T, p *Pipeline, db *store.DB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitfor.Until(t, 10*time.Second, "nothing is pending", func() bool {
		if ids, _ := inbound.Pending(context.Background(), db, 10); len(ids) == 0 {
			return true
		}
		p.Wake("")
		return false
	})
}
