package queue

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestRunSendsWhenTheHoldEnds drives the worker's own loop on the fake
// clock: it parks on the clock, and an Advance past the hold is all it
// takes for the email to go.
func TestRunSendsWhenTheHoldEnds(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for sent := false; !sent; {
		waitParked(t, e)
		e.clk.Advance(time.Second)
		sent = len(e.tr.emails()) == 1
		if e.clk.Now().Sub(t0) > 2*DefaultHold {
			t.Fatalf("nothing sent %v after the post", e.clk.Now().Sub(t0))
		}
	}
	if e.clk.Now().Sub(t0) < DefaultHold {
		t.Errorf("sent %v after the post, before the hold ended", e.clk.Now().Sub(t0))
	}
}

// waitParked returns once the worker waits on the clock.
func waitParked(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // bounds a hung test; nothing sleeps
	for e.clk.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker never parked on the clock")
		}
		runtime.Gosched()
	}
}
