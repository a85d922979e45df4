package journal

import (
	"context"
	"log/slog"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

// PruneBatch is how many entries one pruning transaction deletes.
const PruneBatch = 500

// Prune deletes the entries older than before, in small transactions.
func Prune(ctx context.Context, db *store.DB, before time.Time) (int, error) {
	return db.PruneBefore(ctx, bucket, key(before, 0), PruneBatch, nil)
}

// Pruner deletes old entries every Interval, and runs the extra prune
// functions of other packages (indexes with the same retention).
type Pruner struct {
	DB        *store.DB
	Clock     clock.Clock
	Retention time.Duration
	Interval  time.Duration
	Log       *slog.Logger
	Also      []func(ctx context.Context, before time.Time) (int, error)
}

// Run prunes until ctx ends. Nodes sharing a database take turns: a pass
// runs only on the node holding the store's "prune" job, so two nodes
// never scan and delete the same keys one after the other (the second
// pass would only redo the first's work).
func (p *Pruner) Run(ctx context.Context) {
	for {
		if _, err := p.DB.TryExclusive(ctx, "prune", func() error { p.Once(ctx); return nil }); err != nil && ctx.Err() == nil {
			p.Log.Warn("prune skipped", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-p.Clock.After(p.Interval):
		}
	}
}

// Once runs one pruning pass.
func (p *Pruner) Once(ctx context.Context) {
	before := p.Clock.Now().Add(-p.Retention)
	fns := append([]func(context.Context, time.Time) (int, error){
		func(ctx context.Context, t time.Time) (int, error) { return Prune(ctx, p.DB, t) },
	}, p.Also...)
	for _, fn := range fns {
		n, err := fn(ctx, before)
		if err != nil && ctx.Err() == nil {
			p.Log.Warn("prune failed", "err", err)
		}
		if n > 0 {
			p.Log.Info("pruned old records", "count", n, "before", before.UTC().Format(time.RFC3339))
		}
	}
}
