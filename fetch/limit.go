package fetch

import (
	"context"
	"time"

	"github.com/deskmail/deskmail/clock"
)

// limiter spaces a mailbox's messages to at most perMin a minute, with
// a burst of a tenth of that (at least one): a flood in the mailbox
// reaches the pipeline at a bounded rate.
type limiter struct {
	every time.Duration
	burst time.Duration
	next  time.Time // the earliest time the next message may go
}

func newLimiter(perMin int) *limiter {
	every := time.Minute / time.Duration(max(perMin, 1))
	return &limiter{every: every, burst: every * time.Duration(max(perMin/10, 1))}
}

func (l *limiter) wait(ctx context.Context, clk clock.Clock) error {
	now := clk.Now()
	// After a quiet spell up to burst messages go at once, no more.
	if floor := now.Add(l.every - l.burst); l.next.Before(floor) {
		l.next = floor
	}
	at := l.next
	l.next = l.next.Add(l.every)
	if !at.After(now) {
		return nil
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-clk.After(at.Sub(now)):
		return nil
	}
}

// limiter returns m's limiter (one per mailbox, kept across sessions).
func (f *Fetcher) limiter(m *Mailbox) *limiter {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.limiters == nil {
		f.limiters = map[string]*limiter{}
	}
	l := f.limiters[m.Name]
	if l == nil {
		l = newLimiter(m.MaxPerMin)
		f.limiters[m.Name] = l
	}
	return l
}
