package pipeline

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// withCounter is a slog.Handler that counts the loggers made with
// attributes (Logger.With) and keeps each line's message and attributes.
type withCounter struct {
	mu    *sync.Mutex
	withs *int
	lines *[]string
	attrs []slog.Attr
}

func (h withCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h withCounter) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	for _, a := range h.attrs {
		b.WriteString(" " + a.String())
	}
	r.Attrs(func(a slog.Attr) bool { b.WriteString(" " + a.String()); return true })
	h.mu.Lock()
	*h.lines = append(*h.lines, b.String())
	h.mu.Unlock()
	return nil
}

func (h withCounter) WithAttrs(as []slog.Attr) slog.Handler {
	h.mu.Lock()
	*h.withs++
	h.mu.Unlock()
	h.attrs = append(append([]slog.Attr(nil), h.attrs...), as...)
	return h
}

func (h withCounter) WithGroup(string) slog.Handler { return h }

// TestEmailLoggerMadeOnlyForALine: an email processed without a word to
// log makes no logger of its own (slog.With formatted its attribute for
// every email); a line about an email still names it (msg=<id>).
func TestEmailLoggerMadeOnlyForALine(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test"}
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "c", "d"} {
		rc, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: name + "@y.test", Rcpts: []string{"help@example.test"}},
			strings.NewReader("Message-ID: <"+name+"@x>\r\n\r\nbody\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = rc.ID
	}
	h := withCounter{mu: &sync.Mutex{}, withs: new(int), lines: new([]string)}
	var mu sync.Mutex
	failed := false
	p := &Pipeline{DB: db, Log: slog.New(h), RetryBase: time.Millisecond, RetryMax: time.Millisecond,
		Step: func(_ context.Context, m inbound.Meta) (intake.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			if m.MessageID == "<a@x>" && !failed {
				failed = true
				return intake.Result{}, errors.New("too many open files")
			}
			return intake.Result{Apply: func(tx *store.Tx) error {
				return intake.UpdateEntry(tx, m.JournalID, func(e *journal.Entry) { e.Action = "done" })
			}}, nil
		}}
	runUntilDrained(t, p, db)
	h.mu.Lock()
	defer h.mu.Unlock()
	var about int
	for _, l := range *h.lines {
		if strings.Contains(l, "msg=") {
			about++
		}
	}
	if about != 1 || !strings.Contains(strings.Join(*h.lines, "\n"), "email stays pending, will retry msg="+ids["a"]) {
		t.Errorf("lines %q: want one about a, naming it", *h.lines)
	}
	if *h.withs != about {
		t.Errorf("%d loggers made with attributes for %d lines about an email (%d emails)", *h.withs, about, len(ids))
	}
}
