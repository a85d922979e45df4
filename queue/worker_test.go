package queue

import (
	"context"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// TestRunSendsWhenTheHoldEnds drives the worker's own loop on the fake
// clock: it parks on the clock, and an Advance past the hold is all it
// takes for the email to go.
func TestRunSendsWhenTheHoldEnds(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for sent := false; !sent; {
		waitParked(t, e)
		e.clk.Advance(time.Second)
		sent = len(e.tr.emails()) == 1
		if e.clk.Now().Sub(t0) > 2*DefaultHold {
			t.Fatalf("nothing sent %v after the post", e.clk.Now().Sub(t0))
		}
	}
	if e.clk.Now().Sub(t0) < DefaultHold {
		t.Errorf("sent %v after the post, before the hold ended", e.clk.Now().Sub(t0))
	}
}

// waitParked returns once the worker waits on the clock.
func waitParked(t *testing.T, e *env) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // bounds a hung test; nothing sleeps
	for e.clk.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker never parked on the clock")
		}
		runtime.Gosched()
	}
}

// gated delivers at once, except to gateDomain, where it waits for open.
type gated struct {
	*recorder
	gateDomain string
	open       chan struct{}
}

func (g gated) Deliver(ctx context.Context, from, to string, msg []byte) (Result, error) {
	if domainOf(to) == g.gateDomain {
		select {
		case <-g.open:
		case <-ctx.Done():
			return Result{}, ctx.Err()
		}
	}
	return g.recorder.Deliver(ctx, from, to, msg)
}

// TestSlowDestinationDoesNotHoldTheOthers: an email stuck at one domain
// keeps its slot, and the loop goes on sending what comes due meanwhile.
func TestSlowDestinationDoesNotHoldTheOthers(t *testing.T) {
	e := newEnv(t)
	g := gated{recorder: e.tr, gateDomain: "client.test", open: make(chan struct{})}
	e.w.Transport = g
	e.update(func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "bob", Kind: notify.KindCustomer, Name: "Bob",
			Emails: []string{"bob@other.test"}, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c2", Kind: model.External, Followers: []string{"bob"}})
	})
	e.post("to ann, who is slow") // c1: ann
	e.clk.Advance(DefaultHold / 2)
	if _, err := e.svc.Post(context.Background(), model.Message{Conversation: "c2", Author: "agent", Channel: model.ChannelWeb, Text: "to bob"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.w.Run(ctx) }()
	defer func() { close(g.open); cancel(); <-done }()
	start := e.clk.Now()
	for len(e.tr.emails()) == 0 {
		waitParked(t, e)
		e.clk.Advance(time.Second)
		if e.clk.Now().Sub(start) > 2*DefaultHold {
			t.Fatal("bob's email waited behind ann's stuck one")
		}
	}
	if got := e.tr.emails(); len(got) != 1 || got[0].to != "bob@other.test" {
		t.Errorf("sent %+v, want bob's email only", got)
	}
}

// counting counts the deliveries started, and blocks them until open.
type counting struct {
	*recorder
	started atomic.Int32
	open    chan struct{}
}

func (c *counting) Deliver(ctx context.Context, from, to string, msg []byte) (Result, error) {
	c.started.Add(1)
	select {
	case <-c.open:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	return c.recorder.Deliver(ctx, from, to, msg)
}

// TestSlowDeliveryKeepsItsLease: a delivery still going when its lease
// would have expired is not handed out a second time: the worker renews
// the lease of what it is still delivering.
func TestSlowDeliveryKeepsItsLease(t *testing.T) {
	e := newEnv(t)
	c := &counting{recorder: e.tr, open: make(chan struct{})}
	e.w.Transport = c
	e.post("slow one")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.w.Run(ctx) }()
	defer func() { cancel(); <-done }()
	start := e.clk.Now()
	for c.started.Load() == 0 {
		waitParked(t, e)
		e.clk.Advance(time.Second)
		if e.clk.Now().Sub(start) > 2*DefaultHold {
			t.Fatal("the delivery never started")
		}
	}
	// Three leases' worth of time pass while the delivery hangs.
	for passed := time.Duration(0); passed < 3*DefaultLease; passed += 30 * time.Second {
		waitParked(t, e)
		e.clk.Advance(30 * time.Second)
	}
	close(c.open)
	deadline := time.Now().Add(10 * time.Second)
	for len(e.tr.emails()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the delivery never finished")
		}
		runtime.Gosched()
	}
	if n := c.started.Load(); n != 1 {
		t.Errorf("%d deliveries started for one email, want 1", n)
	}
}
