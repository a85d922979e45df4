package pipeline

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
)

// On PostgreSQL a worker does not read the email it was handed: the
// claim's transaction read its record and raw bytes with its first round
// trip (inbound.LoadReads), so the step starts with no round trip after
// the claim's. (Before, each worker read its email in a round trip of
// its own: a set_config and the read, two statements per email.)
func TestClaimReadsTheEmailItHandsOutPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	id := f.send(t, "c@n.test", "help@help.test", "m@n.test", "")
	var claimed, stepped atomic.Int64
	f.runOn(dbB, "node-b", func(p *Pipeline) {
		p.Rescan, p.Workers = time.Hour, 1 // one email, one claim: nothing else runs meanwhile
		p.afterClaim = func() { claimed.Store(dbB.RoundTrips()) }
		step := p.Step
		p.Step = func(ctx context.Context, m inbound.Meta) (intake.Result, error) {
			stepped.Store(dbB.RoundTrips())
			if m.ID != id {
				t.Errorf("step given %q, want %q", m.ID, id)
			}
			return step(ctx, m)
		}
	})
	waitUntil(t, "the email is processed", func() bool { return len(f.pending(t)) == 0 })
	if n := stepped.Load() - claimed.Load(); n != 0 {
		t.Errorf("%d round trips between the claim's commit and the step, want 0", n)
	}
}
