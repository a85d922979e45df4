package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// Pipeline carries stored inbound messages through the steps that follow
// the 250 (classify, thread, notify). It works from the pending index, so
// a message stored before a crash is picked up again on the next start;
// each step must be harmless to repeat.
type Pipeline struct {
	DB   *store.DB
	Log  *slog.Logger
	Step func(ctx context.Context, m inbound.Meta) (Result, error)
	// RetryBase is the first wait after a step fails (doubling, at most
	// RetryMax); after MaxAttempts the message is journaled "failed" and
	// leaves the pending list. Zero values take 1s, 10m and 12.
	RetryBase   time.Duration
	RetryMax    time.Duration
	MaxAttempts int
	wake        chan struct{}

	// retry holds the messages whose step failed, with their next attempt;
	// only the pipeline goroutine touches it. It is not persisted: after a
	// restart every pending message is tried again at once.
	retry map[string]retryState
}

type retryState struct {
	attempts int
	next     time.Time
}

// updateEntry rewrites a journal entry; an entry already pruned (a backlog
// older than the retention) is not an error: there is nothing to annotate,
// and the message must still leave the pending list.
func updateEntry(tx *store.Tx, id string, fn func(*journal.Entry)) error {
	err := journal.Update(tx, id, fn)
	if errors.Is(err, journal.ErrNotFound) {
		return nil
	}
	return err
}

// Result is what processing a message produced; it is written into the
// message's journal entry.
type Result struct {
	Apply func(tx *store.Tx) error // extra writes in the same commit
	After func()                   // runs once that commit is durable
}

// Wake tells the pipeline there is new work. It never blocks.
func (p *Pipeline) Wake(string) {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Run processes pending messages until ctx ends.
func (p *Pipeline) Run(ctx context.Context) {
	for {
		wait := p.drain(ctx)
		var timer *time.Timer
		var fire <-chan time.Time
		if wait > 0 {
			timer = time.NewTimer(wait)
			fire = timer.C
		}
		select {
		case <-ctx.Done():
		case <-p.wake:
		case <-fire:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// drain processes every pending message that is not waiting for a retry,
// and returns how long until the earliest retry (0: none).
func (p *Pipeline) drain(ctx context.Context) time.Duration {
	if p.retry == nil {
		p.retry = map[string]retryState{}
	}
	for ctx.Err() == nil {
		ids, err := inbound.Pending(p.DB, 256+len(p.retry))
		if err != nil {
			p.Log.Error("list pending messages", "err", err)
			return time.Second
		}
		now := time.Now()
		var wait time.Duration
		did := 0
		for _, id := range ids {
			if ctx.Err() != nil {
				return 0
			}
			if r, ok := p.retry[id]; ok && now.Before(r.next) {
				if d := r.next.Sub(now); wait == 0 || d < wait {
					wait = d
				}
				continue
			}
			p.process(ctx, id)
			did++
		}
		if did == 0 {
			return wait
		}
	}
	return 0
}

func (p *Pipeline) process(ctx context.Context, id string) {
	log := p.Log.With("msg", id)
	m, err := inbound.Load(p.DB, id)
	var res Result
	if err == nil && p.Step != nil {
		res, err = p.Step(ctx, m)
	}
	if ctx.Err() != nil {
		// Shutdown cut the step short (its DNS lookups, say): leave the
		// message pending so the next start does it again, whole.
		return
	}
	if err != nil {
		// A failed step (a spool file that cannot be read, a store read
		// error, too many open files) may be temporary: the message stays
		// pending and is tried again with backoff; the ones behind it go on.
		// After MaxAttempts it is journaled failed and leaves the list.
		metricPipeline.WithLabelValues("error").Inc()
		r := p.retry[id]
		r.attempts++
		if r.attempts < p.maxAttempts() {
			r.next = time.Now().Add(p.backoff(r.attempts))
			p.retry[id] = r
			log.Warn("process stored message, will retry", "err", err, "attempt", r.attempts, "next", r.next.Format(time.RFC3339))
			return
		}
		delete(p.retry, id)
		log.Error("process stored message, giving up", "err", err, "attempts", r.attempts)
		reason := err.Error()
		res = Result{Apply: func(tx *store.Tx) error {
			return updateEntry(tx, m.JournalID, func(e *journal.Entry) {
				e.Action = "failed: " + reason + "; stored, not processed"
			})
		}}
	}
	delete(p.retry, id)
	var gone bool
	err = p.DB.Update(ctx, func(tx *store.Tx) error {
		// On a shared database another node may have finished this
		// message first; its commit wins (SERIALIZABLE makes the check
		// and the writes one step) and this one records nothing.
		if gone = !inbound.IsPending(tx, id); gone {
			return nil
		}
		if res.Apply != nil {
			if err := res.Apply(tx); err != nil {
				return err
			}
		}
		return inbound.Done(tx, id)
	})
	if err != nil && res.Apply != nil && m.JournalID != "" {
		// The step's writes failed (its own writes were rolled back): the
		// message must still leave the pending list, or it would be
		// retried in a tight loop; the journal says why.
		log.Error("record pipeline result", "err", err)
		metricPipeline.WithLabelValues("error").Inc()
		reason := err.Error()
		err = p.DB.Update(ctx, func(tx *store.Tx) error {
			if err := updateEntry(tx, m.JournalID, func(e *journal.Entry) {
				e.Action = "failed: " + reason + "; stored, not processed"
			}); err != nil {
				// Even a journal that cannot be written must not keep the
				// message pending forever: leave the reason in the daemon log.
				log.Error("journal pipeline failure", "err", err)
			}
			return inbound.Done(tx, id)
		})
		res.After = nil
	}
	if err != nil {
		log.Error("finish stored message", "err", err)
		return
	}
	if gone {
		metricPipeline.WithLabelValues("elsewhere").Inc()
		return
	}
	if res.After != nil {
		res.After()
	}
	metricPipeline.WithLabelValues("ok").Inc()
}

func (p *Pipeline) maxAttempts() int {
	if p.MaxAttempts > 0 {
		return p.MaxAttempts
	}
	return 12
}

func (p *Pipeline) backoff(attempt int) time.Duration {
	base, max := p.RetryBase, p.RetryMax
	if base <= 0 {
		base = time.Second
	}
	if max <= 0 {
		max = 10 * time.Minute
	}
	d := base << (attempt - 1)
	if d > max || d <= 0 {
		d = max
	}
	return d
}
