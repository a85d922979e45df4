package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// stepper is a pipeline driven by hand: dispatch (one claim round) and
// process (each claimed email, in the order claimed) are called by the
// test, on an injected clock. Its first dispatch is the full scan of a
// start; the later ones read the due index (Rescan is an hour away).
type stepper struct {
	t   *testing.T
	p   *Pipeline
	clk *clock.Fake
}

func newStepper(t *testing.T, f *pipeFixture, db *store.DB, node string, clk *clock.Fake,
	step func(context.Context, inbound.Meta) (intake.Result, error)) *stepper {
	t.Helper()
	if step == nil {
		step = f.step.Step
		if db != f.db {
			step = f.stepOn(db).Step
		}
	}
	p := &Pipeline{DB: db, Log: slog.New(slog.NewTextHandler(testLogOut, nil)), Step: step,
		Workers: 8, Node: node, Clock: clk, RetryBase: time.Second, RetryMax: time.Second, Rescan: time.Hour}
	p.init()
	return &stepper{t: t, p: p, clk: clk}
}

// claim runs one dispatch and returns what it handed out.
func (s *stepper) claim() []*task {
	work := make(chan *task, 64)
	s.p.dispatch(context.Background(), work)
	close(work)
	var out []*task
	for t := range work {
		out = append(out, t)
	}
	return out
}

func (s *stepper) process(ts []*task) {
	for _, t := range ts {
		s.p.process(context.Background(), t)
	}
}

func ids(ts []*task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.id)
	}
	return out
}

func sameIDs(t *testing.T, what string, got []*task, want ...string) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Errorf("%s: claimed %v, want %v", what, g, want)
	}
}

// sendMany stores n emails of one sender (one ordering key) and returns
// their IDs in the 250 order.
func sendMany(t *testing.T, f *pipeFixture, from string, n int, tag string) []string {
	var out []string
	for i := range n {
		out = append(out, f.send(t, from, "help@help.test", fmt.Sprintf("%s%d@client.test", tag, i), ""))
	}
	return out
}

// One node: an email of one sender waits out a short backoff (it still
// holds its conversation, inbound.OrderHold), so its later emails, given
// back, wait for it. Emails of that sender that come in meanwhile are
// due at once in the due index; claiming them would only have their
// commits find the first pending and be given back (one sender's emails
// cost 3 times the CPU so). They are left until the first is done, then
// claimed with it, in order; another sender's email is claimed at once.
func TestClaimsLeaveAKeyWhoseFirstEmailWaits(t *testing.T) {
	f := newPipeFixture(t)
	testClaimsLeaveAKeyWhoseFirstEmailWaits(t, f)
}

func TestClaimsLeaveAKeyWhoseFirstEmailWaitsPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	f := newPipeFixtureOn(t, func(dir string) (*store.DB, error) {
		return store.OpenPostgres(context.Background(), url, dir, store.Options{})
	})
	testClaimsLeaveAKeyWhoseFirstEmailWaits(t, f)
}

func testClaimsLeaveAKeyWhoseFirstEmailWaits(t *testing.T, f *pipeFixture) {
	clk := clock.NewFake(time.Now())
	a := sendMany(t, f, "ann@client.test", 3, "a")
	fail := true
	s := newStepper(t, f, f.db, "node", clk, func(ctx context.Context, m inbound.Meta) (intake.Result, error) {
		if m.ID == a[0] && fail {
			return intake.Result{}, errors.New("resolver busy")
		}
		return f.step.Step(ctx, m)
	})
	got := s.claim()
	sameIDs(t, "start", got, a...)
	s.process(got) // a0 waits out its backoff (1s); a1, a2 are given back for it
	if p := f.pending(t); len(p) != 3 {
		t.Fatalf("pending after the first round: %v", p)
	}

	clk.Advance(300 * time.Millisecond)
	more := sendMany(t, f, "ann@client.test", 2, "m")
	b := f.send(t, "bob@other.test", "help@help.test", "b0@other.test", "")
	got = s.claim()
	sameIDs(t, "while ann's first email waits", got, b)
	s.process(got)

	clk.Advance(time.Second)
	fail = false
	got = s.claim()
	sameIDs(t, "once it is due", got, append(a, more...)...)
	s.process(got)
	if p := f.pending(t); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
}

// Two nodes on one sender's emails: node A holds the sender's first
// email. Node B's claims, reading the due index, took the later ones,
// whose commits found the first pending and gave them back, again every
// 250 ms while A held it (23 ms of CPU per email over two nodes). Once B
// has learnt that (one round), it leaves the sender's emails to A until
// A's email is done, and claims another sender's at once.
func TestClaimsLeaveAKeyToTheNodeHoldingItsFirstEmail(t *testing.T) {
	f := newPipeFixture(t)
	testClaimsLeaveAKeyToTheNodeHoldingItsFirstEmail(t, f, f.db)
}

func TestClaimsLeaveAKeyToTheNodeHoldingItsFirstEmailPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	testClaimsLeaveAKeyToTheNodeHoldingItsFirstEmail(t, f, dbB)
}

func testClaimsLeaveAKeyToTheNodeHoldingItsFirstEmail(t *testing.T, f *pipeFixture, dbB *store.DB) {
	clk := clock.NewFake(time.Now())
	a := sendMany(t, f, "ann@client.test", 4, "a")
	nodeA := newStepper(t, f, f.db, "node-a", clk, nil)
	var st inbound.State
	if err := f.db.Update(context.Background(), func(tx *store.Tx) (err error) {
		st, err = inbound.Claim(tx, a[0], nodeA.p.owner, clk.Now(), time.Minute, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	first := nodeA.p.start(context.Background(), inbound.Candidate{ID: a[0], State: st}, nil)

	s := newStepper(t, f, dbB, "node-b", clk, nil)
	s.claim() // the start's full scan: nothing of ann's (held by A)
	more := sendMany(t, f, "ann@client.test", 2, "m")
	got := s.claim() // the due index: ann's later emails, given back
	s.process(got)
	for round := range 3 {
		clk.Advance(300 * time.Millisecond)
		b := f.send(t, fmt.Sprintf("bob%d@other.test", round), "help@help.test", fmt.Sprintf("b%d@other.test", round), "")
		got = s.claim()
		sameIDs(t, fmt.Sprintf("node B, round %d, while A holds ann's first", round), got, b)
		s.process(got)
	}

	nodeA.process([]*task{first})
	clk.Advance(300 * time.Millisecond)
	got = s.claim()
	sameIDs(t, "node B once A's email is done", got, append(a[1:], more...)...)
	s.process(got)
	if p := f.pending(t); len(p) != 0 {
		t.Fatalf("still pending: %v", p)
	}
}
