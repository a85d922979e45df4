package pipeline

import (
	"context"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

// Two nodes with affinity: each claims the emails it accepted, and leaves
// the other's to it until they are Affinity old; then (the other node
// died before claiming them) it takes them, and its dispatcher asks to
// be woken for that moment. Without affinity node B claimed A's emails
// with its own.
func TestAffinityLeavesAnotherNodesEmailsToIt(t *testing.T) {
	f := newPipeFixture(t)
	testAffinityLeavesAnotherNodesEmailsToIt(t, f, f.db)
}

func TestAffinityLeavesAnotherNodesEmailsToItPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	testAffinityLeavesAnotherNodesEmailsToIt(t, f, dbB)
}

func testAffinityLeavesAnotherNodesEmailsToIt(t *testing.T, f *pipeFixture, dbB *store.DB) {
	clk, nodeA, nodeB := affinityNodes(t, f, dbB)
	a1 := f.send(t, "ann@a.test", "help@help.test", "a1@a.test", "")
	nodeA.p.Accepted(a1)
	b1 := f.send(t, "bob@b.test", "help@help.test", "b1@b.test", "")
	nodeB.p.Accepted(b1)
	a2 := f.send(t, "cid@c.test", "help@help.test", "a2@c.test", "")
	nodeA.p.Accepted(a2)
	if nodeA.p.Announce() || nodeB.p.Announce() {
		t.Error("a node with affinity announces its stored emails")
	}

	got := nodeB.claim()
	sameIDs(t, "node B", got, b1)
	nodeB.process(got)
	got = nodeA.claim()
	sameIDs(t, "node A", got, a1, a2)
	nodeA.process(got)

	// Node A accepts an email and dies before claiming it: node B takes
	// it once it is Affinity old, and knows when that is.
	a3 := f.send(t, "dan@d.test", "help@help.test", "a3@d.test", "")
	nodeA.p.Accepted(a3)
	work := make(chan *task, 64)
	next := nodeB.p.dispatch(context.Background(), work)
	if len(work) != 0 {
		t.Fatalf("node B claimed %d emails of node A's at once", len(work))
	}
	at, _ := store.IDTime(a3)
	if want := at.Add(2 * time.Second); !next.Equal(want) {
		t.Errorf("node B's next dispatch at %v, want %v (when A's email is anyone's)", next, want)
	}
	clk.Advance(2 * time.Second)
	got = nodeB.claim()
	sameIDs(t, "node B once A's email is 2s old", got, a3)
	nodeB.process(got)
	if p := f.pending(t); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
}

// One sender's emails over two nodes: their order puts every email of
// one node behind the other's earlier one, and affinity would have each
// node wait for the other in turn. The first commit that finds an
// earlier email of its key from the other node turns affinity off on
// that node (and its stored emails are announced again): it takes the
// other node's email of the key at once, and the key's emails go through
// in order.
func TestAffinityPausesForAKeyOverTwoNodes(t *testing.T) {
	f := newPipeFixture(t)
	testAffinityPausesForAKeyOverTwoNodes(t, f, f.db)
}

func TestAffinityPausesForAKeyOverTwoNodesPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	testAffinityPausesForAKeyOverTwoNodes(t, f, dbB)
}

func testAffinityPausesForAKeyOverTwoNodes(t *testing.T, f *pipeFixture, dbB *store.DB) {
	clk, nodeA, nodeB := affinityNodes(t, f, dbB)
	s1 := f.send(t, "ann@client.test", "help@help.test", "s1@client.test", "")
	nodeA.p.Accepted(s1)
	s2 := f.send(t, "ann@client.test", "help@help.test", "s2@client.test", "")
	nodeB.p.Accepted(s2)

	got := nodeB.claim()
	sameIDs(t, "node B, its own", got, s2)
	nodeB.process(got) // s1, node A's, is pending: given back, affinity paused
	if !nodeB.p.Announce() {
		t.Error("node B does not announce its stored emails once affinity is paused")
	}
	clk.Advance(300 * time.Millisecond) // s2's wait for s1 (orderWaitElsewhere), not s1's affinity
	got = nodeB.claim()
	sameIDs(t, "node B once affinity is paused", got, s1, s2)
	nodeB.process(got)
	if p := f.pending(t); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
}

// An email whose id is ahead of this node's clock (the accepting node's
// clock is ahead) is anyone's at once: affinity never delays a takeover
// by a clock skew. An id of another form gets no affinity either.
func TestAffinityIgnoresIDsAheadOfTheClock(t *testing.T) {
	clk := clock.NewFake(time.Now())
	p := &Pipeline{Clock: clk, Affinity: 2 * time.Second}
	p.init()
	now := clk.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.foreignLocked(store.NewID(now.Add(-time.Second)), now) {
		t.Error("another node's email a second old is not left to it")
	}
	if p.foreignLocked(store.NewID(now.Add(time.Hour)), now) {
		t.Error("an email an hour ahead of the clock is left to its node")
	}
	if p.foreignLocked("not-an-id", now) {
		t.Error("an id of another form is left to a node")
	}
}

// affinityNodes is two steppers, node A on the fixture's store and node B
// on dbB, with an Affinity of 2 s and their start's full scan done
// (nothing yet), on a fake clock a second ahead of the real one, which
// the receiver's ids take (an id ahead of the node's clock gets no
// affinity).
func affinityNodes(t *testing.T, f *pipeFixture, dbB *store.DB) (*clock.Fake, *stepper, *stepper) {
	t.Helper()
	clk := clock.NewFake(time.Now().Add(time.Second))
	nodeA := newStepper(t, f, f.db, "node-a", clk, nil)
	nodeB := newStepper(t, f, dbB, "node-b", clk, nil)
	for _, s := range []*stepper{nodeA, nodeB} {
		s.p.Affinity = 2 * time.Second
		s.claim()
	}
	return clk, nodeA, nodeB
}
