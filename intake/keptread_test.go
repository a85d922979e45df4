package intake

import (
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/gocount"
	"github.com/deskmail/deskmail/loopguard"
)

// TestEmailReadOnAKeptGoroutine: readWithin reads an email on a goroutine
// kept from an earlier reading (internal/keptgo), whose stack has
// readEmail's depth already, not on one started for it (its stack grew by
// copying for each email: runtime.newstack under readEmail).
func TestEmailReadOnAKeptGoroutine(t *testing.T) {
	metas, raws := benchEmails(8)
	clk := clock.NewFake(time.Date(2026, 12, 7, 11, 15, 0, 0, time.UTC))
	s := &InboundStep{Clock: clk, Classify: &Classifier{Clock: clk, Guard: loopguard.New(loopguard.Options{Secrets: [][]byte{[]byte("test-secret-0123456789abcdef")}})},
		Thread: &Threader{}}
	if _, ok := s.readWithin(metas[0], raws[0]); !ok {
		t.Fatal("over budget")
	}
	var started uint64
	for i := 1; i < len(metas); i++ { // the goroutine may not wait yet when the next reading starts
		before := gocount.Created()
		if r, ok := s.readWithin(metas[i], raws[i]); !ok || r.email.From == "" {
			t.Fatalf("reading %d: ok=%v from %q", i, ok, r.email.From)
		}
		if started = gocount.Created() - before; started == 0 {
			break
		}
	}
	if started != 0 {
		t.Errorf("a reading started %d goroutines, want none", started)
	}
}
