package messaging

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// setupPG is setup on a PostgreSQL database of its own; commits counts
// the store's commits.
func setupPG(t *testing.T) (*Service, *clock.Fake, *atomic.Int64) {
	t.Helper()
	commits := &atomic.Int64{}
	db, err := store.OpenPostgres(context.Background(), pgtest.NewDatabase(t), t.TempDir(), store.Options{
		Observe: func(time.Duration, int, error) { commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s, clk := setupOn(t, db)
	return s, clk, commits
}

// gate holds the commit of the first batch of acks (in OnSeen, inside its
// transaction) until open is closed, so that the acks sent meanwhile
// queue up and make the next batch.
type gate struct {
	in     chan struct{} // closed once the first commit is held
	open   chan struct{}
	once   sync.Once
	opened sync.Once
}

func newGate() *gate { return &gate{in: make(chan struct{}), open: make(chan struct{})} }

// release opens the gate (once).
func (g *gate) release() { g.opened.Do(func() { close(g.open) }) }

func (g *gate) hold() {
	first := false
	g.once.Do(func() { first = true })
	if first {
		close(g.in)
		<-g.open
	}
}

// waitReadWhileCommitting waits until n acks were read and wait for a
// commit, none left to read: the commit on its way (held by a gate) does
// not keep the acks that came meanwhile from being read.
func waitReadWhileCommitting(t *testing.T, s *Service, n int) {
	t.Helper()
	waitfor.Until(t, 10*time.Second, "the acks to be read while a batch commits", func() bool {
		s.acks.mu.Lock()
		defer s.acks.mu.Unlock()
		return len(s.acks.ready) == n && len(s.acks.pending) == 0 && !s.acks.reading && s.acks.committing
	})
}

type ackAnswer struct {
	who, upTo string
	res       SeenResult
	err       error
}

// The acks sent while a batch commits are read meanwhile (in one read or
// a few, as they come), those that change nothing answered from it, and
// the others committed together in the next commit.
func TestAcksTogetherShareReadsAndOneCommitPostgres(t *testing.T) {
	s, clk, commits := setupPG(t)
	ctx := context.Background()
	var ids []string
	for range 8 {
		clk.Advance(time.Millisecond) // message IDs sort by time
		p, err := s.Post(ctx, model.Message{Conversation: "c1", Author: "ann", Channel: model.ChannelWeb, Text: "help"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Message.ID)
	}
	g := newGate()
	var heldSecond atomic.Bool
	second := make(chan struct{})
	var release sync.Once
	t.Cleanup(func() { release.Do(func() { close(second) }) })
	t.Cleanup(func() { g.release() })
	var mu sync.Mutex
	seen := map[string][]string{} // OnSeen's marks by person
	s.OnSeen = func(_ *store.Tx, person, conv string, marked []string) error {
		g.hold()
		if person == "boss" && heldSecond.CompareAndSwap(false, true) {
			<-second // the second batch's commit, held while the test looks
		}
		mu.Lock()
		seen[person] = append(seen[person], marked...)
		mu.Unlock()
		return nil
	}
	answers := make(chan ackAnswer, 32)
	send := func(who, upTo string) {
		go func() {
			r, err := s.Ack(ctx, who, "c1", upTo)
			answers <- ackAnswer{who, upTo, r, err}
		}()
	}
	send("agent", ids[0])
	<-g.in
	// While the first batch commits: the agent's acks up to each message
	// (two of them the same), the boss's up to the last, an unknown
	// message and an unknown person.
	for _, id := range ids[1:] {
		send("agent", id)
	}
	send("agent", ids[3])
	send("boss", ids[7])
	send("boss", "no-such-message")
	send("nobody", ids[0])
	// They are read while the first batch commits: the unknowns are
	// answered from that read, the others wait for the next commit.
	waitReadWhileCommitting(t, s, len(ids)+1)
	s.acks.mu.Lock()
	next := slices.Clone(s.acks.ready) // the next batch's acks
	s.acks.mu.Unlock()
	got := map[string][]ackAnswer{}
	for range 2 {
		a := <-answers
		got[a.who] = append(got[a.who], a)
	}
	before := commits.Load()
	g.release()
	// The first ack's answer once its commit is done.
	a := <-answers
	got[a.who] = append(got[a.who], a)
	if a := got["agent"]; len(a) != 1 || a[0].err != nil || !slices.Equal(a[0].res.Marked, ids[:1]) {
		t.Fatalf("the first ack: %+v", a)
	}
	if len(got["boss"]) != 1 || !got["boss"][0].res.UnknownMessage || got["boss"][0].err != nil {
		t.Fatalf("the unknown message: %+v", got["boss"])
	}
	if len(got["nobody"]) != 1 || !errors.Is(got["nobody"][0].err, model.ErrNotFound) {
		t.Fatalf("the unknown person: %+v", got["nobody"])
	}
	waitfor.Until(t, 10*time.Second, "the second batch's commit", heldSecond.Load)
	// The commit is held inside its transaction: no ack of it may have
	// been answered. An answer is the close of its done channel, and a
	// close made before the commit reached OnSeen happened before
	// heldSecond was set, so this sees it every time (the answers channel
	// would only show it if Ack's goroutine had sent it by now).
	for _, a := range next {
		select {
		case <-a.done:
			t.Fatalf("an ack was answered before its commit was done: %s up to %s: %+v, %v", a.person, a.up, a.res, a.err)
		default:
		}
	}
	release.Do(func() { close(second) })
	var agentMarked []string
	for range len(ids) + 1 {
		a := <-answers
		if a.err != nil || !a.res.Wrote {
			t.Fatalf("ack %+v", a)
		}
		for _, m := range a.res.Marked {
			if m > a.upTo {
				t.Errorf("%s's ack up to %s marked %s, after it", a.who, a.upTo, m)
			}
		}
		if a.who == "agent" {
			agentMarked = append(agentMarked, a.res.Marked...)
		} else if !slices.Equal(a.res.Marked, ids) {
			t.Errorf("the boss's ack marked %v, want all %v", a.res.Marked, ids)
		}
	}
	// Each of the agent's notifications marked by exactly one ack.
	slices.Sort(agentMarked)
	if !slices.Equal(agentMarked, ids[1:]) {
		t.Errorf("the agent's acks marked %v, want %v once each", agentMarked, ids[1:])
	}
	if n := commits.Load() - before; n != 2 {
		t.Errorf("%d commits for two batches", n)
	}
	mu.Lock()
	if len(seen["agent"]) != len(ids) || len(seen["boss"]) != len(ids) {
		t.Errorf("OnSeen got %v", seen)
	}
	mu.Unlock()
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		for _, p := range []string{"agent", "boss"} {
			if _, unread, err := model.Inbox(tx, p, 100); err != nil || unread != 0 {
				t.Errorf("%s: %d unread (%v)", p, unread, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An ack whose commit fails (a notification record that does not decode)
// fails alone: the others of its batch are committed without it.
func TestAckThatFailsFailsAlonePostgres(t *testing.T) {
	s, clk, _ := setupPG(t)
	ctx := context.Background()
	p, err := s.Post(ctx, model.Message{Conversation: "c1", Author: "ann", Channel: model.ChannelWeb, Text: "help"})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Millisecond)
	p2, err := s.Post(ctx, model.Message{Conversation: "c1", Author: "ann", Channel: model.ChannelWeb, Text: "again"})
	if err != nil {
		t.Fatal(err)
	}
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		return tx.Put("notifications", []byte("boss\x00"+p2.Message.ID), []byte("not json"))
	})
	if err != nil {
		t.Fatal(err)
	}
	g := newGate()
	t.Cleanup(g.release)
	s.OnSeen = func(*store.Tx, string, string, []string) error { g.hold(); return nil }
	answers := make(chan ackAnswer, 4)
	send := func(who, upTo string) {
		go func() {
			r, err := s.Ack(ctx, who, "c1", upTo)
			answers <- ackAnswer{who, upTo, r, err}
		}()
	}
	send("agent", p.Message.ID)
	<-g.in
	send("boss", p2.Message.ID)
	send("agent", p2.Message.ID)
	waitReadWhileCommitting(t, s, 2)
	g.release()
	for range 3 {
		a := <-answers
		switch {
		case a.who == "boss":
			if a.err == nil {
				t.Errorf("the boss's ack over a broken record: %+v", a)
			}
		case a.err != nil || len(a.res.Marked) != 1 || a.res.Marked[0] != a.upTo:
			t.Errorf("the agent's ack up to %s: %+v", a.upTo, a)
		}
	}
}

// A commit that finds acks being read waits for that read, and commits
// them with the acks read before: they do not wait for a commit of their
// own after it.
func TestAckCommitWaitsForTheReadOnItsWayPostgres(t *testing.T) {
	s, clk, commits := setupPG(t)
	ctx := context.Background()
	var ids []string
	for range 2 {
		clk.Advance(time.Millisecond)
		p, err := s.Post(ctx, model.Message{Conversation: "c1", Author: "ann", Channel: model.ChannelWeb, Text: "help"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.Message.ID)
	}
	g := newGate()
	t.Cleanup(g.release)
	s.OnSeen = func(*store.Tx, string, string, []string) error { g.hold(); return nil }
	// The boss's ack is held in its read (a guard that waits).
	inRead, readOpen := make(chan struct{}), make(chan struct{})
	var openRead sync.Once
	t.Cleanup(func() { openRead.Do(func() { close(readOpen) }) })
	slow := AckGuard{Query: store.Get("people", []byte("boss")), Check: func([]store.KV) error {
		close(inRead)
		<-readOpen
		return nil
	}}
	answers := make(chan ackAnswer, 3)
	send := func(who, upTo string, guards ...AckGuard) {
		go func() {
			r, err := s.Ack(ctx, who, "c1", upTo, guards...)
			answers <- ackAnswer{who, upTo, r, err}
		}()
	}
	send("agent", ids[0])
	<-g.in
	send("agent", ids[1])
	waitReadWhileCommitting(t, s, 1)
	send("boss", ids[1], slow)
	<-inRead
	before := commits.Load()
	g.release()
	if a := <-answers; a.err != nil || !slices.Equal(a.res.Marked, ids[:1]) {
		t.Fatalf("the first ack: %+v", a)
	}
	// The commit done, the agent's second ack is read and the boss's
	// is being read: the committer waits for it (or, were it not to,
	// commits the agent's alone).
	waitfor.Until(t, 10*time.Second, "the next commit to wait for the read or begin", func() bool {
		s.acks.mu.Lock()
		defer s.acks.mu.Unlock()
		return s.acks.waiting || len(s.acks.ready) == 0
	})
	openRead.Do(func() { close(readOpen) })
	for range 2 {
		if a := <-answers; a.err != nil || !a.res.Wrote || len(a.res.Marked) == 0 {
			t.Fatalf("ack %+v", a)
		}
	}
	if n := commits.Load() - before; n != 2 {
		t.Errorf("%d commits for the first ack and the two read while it committed, want 2", n)
	}
}

// While a commit is on its way, a read waits for the acks that come back
// together, at most until half the last commit's time has gone since
// this commit began (by the Service's clock), and no longer once that
// commit is done.
func TestReadLingersAtMostHalfACommit(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC))
	linger := func(q *ackQueue) <-chan struct{} {
		done := make(chan struct{})
		go func() {
			q.mu.Lock()
			q.linger(clk)
			q.mu.Unlock()
			close(done)
		}()
		waitfor.Until(t, 10*time.Second, "the read to linger on the clock", func() bool {
			q.mu.Lock()
			defer q.mu.Unlock()
			return q.lingering && clk.Waiters() > 0
		})
		return done
	}
	// The commit on its way began 1ms ago with 4 acks; the last took 10ms.
	q := &ackQueue{pending: []*ack{{}}, committing: true, commitStart: clk.Now(), commitAcks: 4, lastCommit: 10 * time.Millisecond}
	clk.Advance(time.Millisecond)
	done := linger(q)
	clk.Advance(3 * time.Millisecond)
	// Advance fires and drops the waiters that came due before it
	// returns: the linger's is still there 4ms in, unless it was due
	// before half the last commit's time.
	if n := clk.Waiters(); n != 1 {
		t.Fatalf("%d waiters on the clock 4ms into the commit; want the linger's, due at 5ms", n)
	}
	select {
	case <-done:
		t.Fatal("the read went 4ms into the commit, before half the last commit's time (5ms)")
	default:
	}
	clk.Advance(time.Millisecond)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the read still lingers half the last commit's time into the commit")
	}

	// The commit done, the read goes at once, the clock not moved.
	q = &ackQueue{pending: []*ack{{}}, committing: true, commitStart: clk.Now(), commitAcks: 4, lastCommit: 10 * time.Millisecond}
	done = linger(q)
	q.mu.Lock()
	q.committing = false
	q.wake()
	q.mu.Unlock()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the read still lingers after the commit is done")
	}
}
