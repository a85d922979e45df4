package pipeline

import (
	"context"
	"time"
)

// Yield lets the accepts clients wait for go first: while Busy reports
// true the pipeline processes at most Workers emails at once instead of
// all its workers, and leaves the CPU and the store's committer to the
// SMTP sessions (Postfix's smtpd and qmgr are decoupled the same way).
// It can never starve the pipeline: an email stored MaxWait ago or more
// is processed at once whatever the accepts do, so yielding delays no
// email's processing by more than MaxWait, and the backlog bound
// (max-pending) still refuses new mail before the pipeline falls behind
// without end. When the accepts stop, the pipeline catches up with all
// its workers.
type Yield struct {
	// Busy reports whether accepts are in progress (inbound.Activity).
	Busy func() bool
	// Workers bounds the emails processed at once while Busy (at least 1).
	Workers int
	// MaxWait bounds how long an email waits because of yielding (at
	// most half the claims' lease); zero or less turns yielding off.
	MaxWait time.Duration
}

// yieldPoll is how often a task held back by yielding looks again
// whether the accepts have stopped.
const yieldPoll = 10 * time.Millisecond

// admit waits until t may be processed: at once without yielding, else
// when fewer than Yield.Workers emails are in process, the accepts have
// stopped, or t's email has waited MaxWait since it was stored. The
// dispatcher admits tasks in the order they were answered 250, so an
// email's earlier emails (the sequencer's dependencies) are always
// admitted before it. It returns false when ctx ends first.
func (p *Pipeline) admit(ctx context.Context, t *task) bool {
	y := p.Yield
	var maxWait time.Duration
	if y != nil {
		// A claim held back must not outlive its lease.
		maxWait = min(y.MaxWait, p.lease()/2)
	}
	held := false
	start := p.Clock.Now()
	for {
		var wait time.Duration
		ok := y == nil || maxWait <= 0 || y.Busy == nil
		if !ok {
			p.mu.Lock()
			ok = p.active < max(y.Workers, 1)
			p.mu.Unlock()
		}
		if !ok {
			ok = !y.Busy()
		}
		if !ok {
			age := p.Clock.Now().Sub(t.st.Stored)
			ok = t.st.Stored.IsZero() || age >= maxWait
			wait = min(yieldPoll, maxWait-age)
		}
		if ok {
			p.mu.Lock()
			p.active++
			p.mu.Unlock()
			t.admitted = true
			if held {
				metricYield.Add(p.Clock.Now().Sub(start).Seconds())
			}
			return true
		}
		held = true
		select {
		case <-ctx.Done():
			return false
		case <-p.freed:
		case <-p.Clock.After(wait):
		}
	}
}

// leave ends an admitted task's turn.
func (p *Pipeline) leave(t *task) {
	if !t.admitted {
		return
	}
	t.admitted = false
	p.mu.Lock()
	p.active--
	p.mu.Unlock()
	select {
	case p.freed <- struct{}{}:
	default:
	}
}
