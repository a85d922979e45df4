package queue

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

// hookSender is a Sender that records the bodies it is given; fail, if
// set, decides each attempt's error.
type hookSender struct {
	mu     sync.Mutex
	bodies []string
	fail   func(n int) error
}

func (h *hookSender) Send(_ context.Context, j Job, body []byte) (Result, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.bodies = append(h.bodies, string(body))
	if h.fail != nil {
		if err := h.fail(len(h.bodies)); err != nil {
			return Result{}, err
		}
	}
	return Result{Reply: "200 OK"}, nil
}

func (e *env) enqueueHook(id string) {
	e.t.Helper()
	e.update(func(tx *store.Tx) error {
		return Enqueue(tx, Job{ID: id, Kind: KindWebhook, Conversation: "c1", Created: e.clk.Now()}, []byte(`{"id":"`+id+`"}`))
	})
}

func (e *env) job(id string) Job {
	e.t.Helper()
	var j Job
	e.view(func(tx *store.Tx) error {
		var err error
		j, err = GetJob(tx, id)
		return err
	})
	return j
}

// A webhook job next to an email: each goes to its own deliverer, the
// email after its hold, the webhook job at once with its own backoff; the
// webhook job never reaches the log of outgoing email.
func TestKindsGoToTheirOwnDeliverer(t *testing.T) {
	e := newEnv(t)
	hooks := &hookSender{fail: func(n int) error {
		if n == 1 {
			return errTemp
		}
		return nil
	}}
	e.w.Senders = map[Kind]Sender{KindWebhook: hooks}
	e.q.KindBackoff = map[Kind]Backoff{KindWebhook: {Base: 5 * time.Second, Max: time.Minute}}
	e.post("hello")
	id := store.NewID(e.clk.Now())
	e.enqueueHook(id)
	if n := e.process(); n != 1 {
		t.Fatalf("%d jobs processed, want the webhook job only (the email is held)", n)
	}
	if j := e.job(id); j.State != StateQueued || !j.Due.Equal(e.clk.Now().Add(5*time.Second)) {
		t.Fatalf("webhook job after a temporary error: %s due %v, want its own 5 s backoff", j.State, j.Due)
	}
	e.clk.Advance(DefaultHold)
	if n := e.process(); n != 2 {
		t.Fatalf("%d jobs processed, want the email and the webhook job", n)
	}
	if j := e.job(id); j.State != StateSent || j.Reason != "200 OK" {
		t.Errorf("webhook job: %s (%s)", j.State, j.Reason)
	}
	if got := e.tr.emails(); len(got) != 1 || got[0].to != "ann@client.test" {
		t.Errorf("the transport got %d emails, want ann's", len(got))
	}
	if len(hooks.bodies) != 2 || hooks.bodies[1] != `{"id":"`+id+`"}` {
		t.Errorf("the sender got %q", hooks.bodies)
	}
	want := []string{"held", "sending", "sent"}
	if got := e.statuses(); !slices.Equal(got, want) {
		t.Errorf("outgoing log %v, want the email's only: %v", got, want)
	}
}

// A permanent failure of a webhook job fails it without counting towards
// any email suppression, and a bounce naming it is not taken.
func TestWebhookJobsStayOutOfSuppression(t *testing.T) {
	e := newEnv(t)
	e.q.SuppressAfter = 1
	e.w.Senders = map[Kind]Sender{KindWebhook: &hookSender{fail: func(int) error { return Permanent(errors.New("410 Gone")) }}}
	id := store.NewID(e.clk.Now())
	e.enqueueHook(id)
	e.process()
	if j := e.job(id); j.State != StateFailed {
		t.Errorf("after a permanent error: %s", j.State)
	}
	e.view(func(tx *store.Tx) error {
		if s, _ := Suppressions(tx); len(s) != 0 {
			t.Errorf("suppressions %+v", s)
		}
		return nil
	})
	err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := e.q.RecordBounce(tx, id, loopguard.BounceReport{Action: "failed", Status: "5.1.1"})
		return err
	})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("a bounce naming a webhook job: %v, want ErrNotFound", err)
	}
	if got := e.statuses(); len(got) != 0 {
		t.Errorf("outgoing log %v, want none", got)
	}
}

// A kind without a sender (the webhook turned off with jobs waiting) is
// retried and in time failed, like any undeliverable job.
func TestAKindWithoutSenderIsDeferred(t *testing.T) {
	e := newEnv(t)
	id := store.NewID(e.clk.Now())
	e.enqueueHook(id)
	e.process()
	if j := e.job(id); j.State != StateQueued || j.Reason == "" {
		t.Errorf("%s (%s), want queued with the reason", j.State, j.Reason)
	}
}

func TestEnqueueRefusesEmailsAndDuplicates(t *testing.T) {
	e := newEnv(t)
	id := store.NewID(e.clk.Now())
	e.enqueueHook(id)
	for name, j := range map[string]Job{
		"an email":     {ID: store.NewID(e.clk.Now()), Kind: KindEmail, Created: e.clk.Now()},
		"no kind":      {ID: store.NewID(e.clk.Now()), Created: e.clk.Now()},
		"a used ID":    {ID: id, Kind: KindWebhook, Created: e.clk.Now()},
		"no time":      {ID: store.NewID(e.clk.Now()), Kind: KindWebhook},
		"too big body": {ID: "big", Kind: KindWebhook, Created: e.clk.Now()},
	} {
		body := []byte("{}")
		if j.ID == "big" {
			body = make([]byte, MaxBody+1)
		}
		if err := e.db.Update(context.Background(), func(tx *store.Tx) error { return Enqueue(tx, j, body) }); err == nil {
			t.Errorf("%s: enqueued", name)
		}
	}
}

// A webhook job goes while an email is stuck at its destination (its one
// per-destination slot held): the worker hands it to its Sender, which
// takes no email slot at all.
func TestWebhookJobsGoWhileAnEmailIsStuck(t *testing.T) {
	e := newEnv(t)
	g := gated{recorder: e.tr, gateDomain: "client.test", open: make(chan struct{})}
	e.w.Transport, e.w.PerDestination = g, 1
	hooks := &hookSender{}
	e.w.Senders = map[Kind]Sender{KindWebhook: hooks}
	e.post("to ann, whose provider is stuck")
	e.clk.Advance(DefaultHold)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.w.Run(ctx) }()
	defer func() { close(g.open); cancel(); <-done }()
	waitParked(t, e) // the email is leased and stuck at its destination
	e.enqueueHook(store.NewID(e.clk.Now()))
	e.w.Wake()
	deadline := time.Now().Add(10 * time.Second) // bounds a hung test; nothing sleeps
	for {
		hooks.mu.Lock()
		n := len(hooks.bodies)
		hooks.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook job waited behind the stuck email")
		}
		runtime.Gosched()
	}
	if got := e.tr.emails(); len(got) != 0 {
		t.Errorf("%d emails sent through the closed gate", len(got))
	}
}
