package fetch

import (
	"context"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
)

// 60 a minute: a burst of 6 goes at once, then one a second.
func TestLimiterSpacesMessages(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	l := newLimiter(60)
	for i := range 6 {
		if err := l.wait(context.Background(), clk); err != nil {
			t.Fatalf("burst message %d: %v", i, err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- l.wait(context.Background(), clk) }()
	waitUntil(t, "the seventh waits on the clock", func() bool { return clk.Waiters() == 1 })
	select {
	case <-done:
		t.Fatal("the seventh went without waiting")
	default:
	}
	clk.Advance(time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// A cancelled wait returns the context's error.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.wait(ctx, clk); err == nil {
		t.Fatal("a cancelled wait returned nil")
	}
}
