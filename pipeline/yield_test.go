package pipeline

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
)

// gatedStep wraps a step: it counts the emails inside it (and the most
// at once) and holds each until release is closed, or an email named in
// hold forever (until the test ends).
type gatedStep struct {
	mu      sync.Mutex
	in, max int
	release chan struct{}
	hold    map[string]bool
	stop    chan struct{}
	next    func(ctx context.Context, m inbound.Meta) (intake.Result, error)
}

func (g *gatedStep) step(ctx context.Context, m inbound.Meta) (intake.Result, error) {
	g.mu.Lock()
	g.in++
	g.max = max(g.max, g.in)
	held := g.hold[m.ID]
	g.mu.Unlock()
	defer func() { g.mu.Lock(); g.in--; g.mu.Unlock() }()
	wait := g.release
	if held {
		wait = g.stop
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return intake.Result{}, ctx.Err()
	}
	return g.next(ctx, m)
}

func (g *gatedStep) counts() (in, most int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.in, g.max
}

func TestYieldBoundsTheWorkersWhileAccepting(t *testing.T) {
	f := newPipeFixture(t)
	g := &gatedStep{release: make(chan struct{}), next: f.step.Step}
	var busy atomic.Bool
	busy.Store(true)
	f.run("n1", func(p *Pipeline) {
		p.Step = g.step
		p.Workers = 8
		p.Yield = &Yield{Busy: busy.Load, Workers: 2, MaxWait: time.Hour}
	})
	var ids []string
	for i := range 12 {
		ids = append(ids, f.send(t, fmt.Sprintf("c%d@sender%d.test", i, i), "help@help.test", fmt.Sprintf("y%d@x", i), ""))
	}
	waitUntil(t, "two emails in the step", func() bool { in, _ := g.counts(); return in == 2 })
	if _, most := g.counts(); most != 2 {
		t.Fatalf("%d emails processed at once while accepting, want at most 2", most)
	}
	// The accepts stop: the pipeline takes up all its workers.
	busy.Store(false)
	waitUntil(t, "eight emails in the step", func() bool { in, _ := g.counts(); return in == 8 })
	close(g.release)
	waitUntil(t, "the backlog drained", func() bool { return len(f.pending(t)) == 0 })
	if n := len(ids); n != 12 {
		t.Fatal(n)
	}
}

// While the accepts go on, a task that ends gives its turn to the next:
// the bound is on emails at once, not on emails in all.
func TestYieldKeepsProcessingWhileAccepting(t *testing.T) {
	f := newPipeFixture(t)
	g := &gatedStep{release: make(chan struct{}), next: f.step.Step}
	close(g.release)
	f.run("n1", func(p *Pipeline) {
		p.Step = g.step
		p.Yield = &Yield{Busy: func() bool { return true }, Workers: 2, MaxWait: time.Hour}
	})
	for i := range 12 {
		f.send(t, fmt.Sprintf("k%d@keep%d.test", i, i), "help@help.test", fmt.Sprintf("k%d@x", i), "")
	}
	waitUntil(t, "all twelve processed while the accepts go on", func() bool { return len(f.pending(t)) == 0 })
	if _, most := g.counts(); most > 2 {
		t.Errorf("%d emails processed at once while accepting, want at most 2", most)
	}
}

func TestYieldDelaysNoEmailPastMaxWait(t *testing.T) {
	f := newPipeFixture(t)
	g := &gatedStep{release: make(chan struct{}), stop: make(chan struct{}), next: f.step.Step}
	close(g.release)
	t.Cleanup(func() { close(g.stop) })
	first := f.send(t, "first@sender.test", "help@help.test", "first@x", "")
	g.hold = map[string]bool{first: true}
	// Accepts never stop, and the one turn yielding leaves is taken by an
	// email that never finishes: the others still go through once they
	// have waited MaxWait.
	f.run("n1", func(p *Pipeline) {
		p.Step = g.step
		p.Yield = &Yield{Busy: func() bool { return true }, Workers: 1, MaxWait: 100 * time.Millisecond}
	})
	waitUntil(t, "the first email in the step", func() bool { in, _ := g.counts(); return in == 1 })
	for i := range 5 {
		f.send(t, fmt.Sprintf("c%d@other%d.test", i, i), "help@help.test", fmt.Sprintf("z%d@x", i), "")
	}
	waitUntil(t, "all but the held email processed", func() bool {
		p := f.pending(t)
		return len(p) == 1 && p[first]
	})
}
