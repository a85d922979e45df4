package gateway

import (
	"context"
	"time"

	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

// capPruner removes the loop guard's ping-pong counts that can no longer
// matter, a slice of each bucket per pass (the journal pruner runs it
// every minute, as one of its Also functions), resuming where the last
// pass stopped: the keys are not in time order, so a pass cannot stop at
// a date the way the journal's does.
type capPruner struct {
	db   *store.DB
	next map[string][]byte // bucket -> key to go on from
}

// capPruneSlice is how many keys one pass reads per bucket.
const capPruneSlice = 2000

func (p *capPruner) prune(ctx context.Context, before time.Time) (int, error) {
	if p.next == nil {
		p.next = map[string][]byte{}
	}
	total := 0
	for _, b := range loopguard.CapBuckets {
		err := p.db.Update(ctx, func(tx *store.Tx) error {
			n, next, err := loopguard.PruneCaps(tx, b, p.next[b], before, capPruneSlice)
			if err == nil {
				total += n
				p.next[b] = next
			}
			return err
		})
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
