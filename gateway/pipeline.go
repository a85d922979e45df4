package gateway

import (
	"context"
	"log/slog"

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
	wake chan struct{}
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
		p.drain(ctx)
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		}
	}
}

func (p *Pipeline) drain(ctx context.Context) {
	for ctx.Err() == nil {
		ids, err := inbound.Pending(p.DB, 256)
		if err != nil {
			p.Log.Error("list pending messages", "err", err)
			return
		}
		if len(ids) == 0 {
			return
		}
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			p.process(ctx, id)
		}
	}
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
		// A message that cannot be processed stays stored and journaled;
		// it leaves the pending list so it cannot block the ones behind it.
		metricPipeline.WithLabelValues("error").Inc()
		log.Error("process stored message", "err", err)
	}
	err = p.DB.Update(ctx, func(tx *store.Tx) error {
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
			if err := journal.Update(tx, m.JournalID, func(e *journal.Entry) {
				e.Action = "failed: " + reason + "; stored, not processed"
			}); err != nil {
				return err
			}
			return inbound.Done(tx, id)
		})
		res.After = nil
	}
	if err != nil {
		log.Error("finish stored message", "err", err)
		return
	}
	if res.After != nil {
		res.After()
	}
	metricPipeline.WithLabelValues("ok").Inc()
}
