package pipeline

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// On a shared store, with a quarter of the workers' emails in hand, the
// dispatcher's next claim waits for fewer in hand or for claimGather, and
// then takes in one claim what gathered meanwhile (claimLow): two nodes
// that each keep up with half the load claimed a few emails per claim
// transaction, each claim a commit of its own.
func TestClaimGathersWhileEnoughInHandPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	f := newPipeFixtureOn(t, func(dir string) (*store.DB, error) {
		return store.OpenPostgres(context.Background(), url, dir, store.Options{})
	})
	clk := clock.NewFake(time.Now())
	s := newStepper(t, f, f.db, "node-a", clk, nil)
	if low := s.p.claimLow(); low != 2 {
		t.Fatalf("claimLow with 8 workers = %d, want 2", low)
	}
	send := func(from, to int) []string {
		var out []string
		for i := from; i < to; i++ {
			out = append(out, f.send(t, fmt.Sprintf("c%d@n%d.test", i, i), "help@help.test", fmt.Sprintf("g%d@n.test", i), ""))
		}
		return out
	}
	first := send(0, 2)
	got := s.claim()
	sameIDs(t, "the first claim", got, first...)

	// Two in hand (a quarter of 8 workers): the emails that come now
	// wait for the next claim.
	later := send(2, 5)
	if more := s.claim(); len(more) != 0 {
		t.Fatalf("claimed %v with %d emails in hand, want nothing before claimGather", ids(more), len(got))
	}
	// One done, one in hand: the next claim takes all three at once.
	s.process(got[:1])
	more := s.claim()
	sameIDs(t, "with one in hand", more, later...)

	// Three in hand again: the bound lets a claim go all the same (an
	// email held long, a slow DNS answer, keeps the others waiting
	// at most claimGather).
	last := send(5, 6)
	if none := s.claim(); len(none) != 0 {
		t.Fatalf("claimed %v with 4 in hand, want nothing before claimGather", ids(none))
	}
	clk.Advance(claimGather)
	sameIDs(t, "after claimGather", s.claim(), last...)
	s.process(append(got[1:], more...))
}

// A store of one node (bbolt) claims as before: its claims are
// background writes of its one committer.
func TestClaimLowOnlyOnASharedStore(t *testing.T) {
	f := newPipeFixture(t)
	s := newStepper(t, f, f.db, "node-a", clock.NewFake(time.Now()), nil)
	if low := s.p.claimLow(); low != 0 {
		t.Fatalf("claimLow on bbolt = %d, want 0", low)
	}
}
