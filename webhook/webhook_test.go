package webhook

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var secret = []byte("s3cret")

// env is a data folder, the queue on a fake clock with a worker whose
// only sender is the webhook's, and a web app (httptest) answering with
// answer, which sees every POST after its signature is checked.
type env struct {
	t   *testing.T
	db  *store.DB
	clk *clock.Fake
	q   *queue.Queue
	w   *queue.Worker
	s   *Sender
	srv *httptest.Server

	mu     sync.Mutex
	posts  []Event
	badSig int
}

func newEnv(t *testing.T, answer func(n int, w http.ResponseWriter, r *http.Request)) *env {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, clk: clock.NewFake(t0)}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev Event
		_ = json.Unmarshal(body, &ev)
		e.mu.Lock()
		if !Verify(secret, body, r.Header.Get(SignatureHeader), e.clk.Now(), 5*time.Minute) ||
			r.Header.Get("X-Deskmail-Event") != ev.ID {
			e.badSig++
		}
		e.posts = append(e.posts, ev)
		n := len(e.posts)
		e.mu.Unlock()
		answer(n, w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.q = &queue.Queue{Clock: e.clk, MaxAge: time.Hour,
		KindBackoff: map[queue.Kind]queue.Backoff{queue.KindWebhook: {Base: 5 * time.Second, Max: time.Minute}}}
	e.s = &Sender{URL: e.srv.URL, Secret: secret, Clock: e.clk}
	e.w = &queue.Worker{DB: db, Queue: e.q, Clock: e.clk, Senders: map[queue.Kind]queue.Sender{queue.KindWebhook: e.s}}
	return e
}

// enqueue commits the event of message m, as the threading step does.
func (e *env) enqueue(m string) Event {
	e.t.Helper()
	ev := Event{ID: store.NewID(e.clk.Now()), Type: TypeMessageCreated, Conversation: "c1", Message: m,
		Author: "ann", Channel: "email", Time: e.clk.Now()}
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error { return Enqueue(tx, ev) }); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func (e *env) process() int {
	e.t.Helper()
	n, err := e.w.ProcessDue(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) job(id string) queue.Job {
	e.t.Helper()
	var j queue.Job
	err := e.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		j, err = queue.GetJob(tx, id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

// check asserts the web app saw n POSTs, all signed.
func (e *env) check(n int) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.badSig > 0 {
		e.t.Errorf("%d POSTs without a valid signature", e.badSig)
	}
	if len(e.posts) != n {
		e.t.Errorf("%d POSTs, want %d", len(e.posts), n)
	}
}

// noOutgoingLog asserts no webhook job reached the log of outgoing email.
func (e *env) noOutgoingLog() {
	e.t.Helper()
	out, err := journal.Query(context.Background(), e.db, journal.Filter{Since: t0.Add(-time.Hour), Direction: journal.Out})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(out) > 0 {
		e.t.Errorf("webhook jobs in the log of outgoing email: %+v", out[0])
	}
}

func TestA500ThenA200DeliversOnceSigned(t *testing.T) {
	e := newEnv(t, func(n int, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	})
	ev := e.enqueue("m1")
	if n := e.process(); n != 1 {
		t.Fatalf("%d jobs processed, want the webhook job", n)
	}
	j := e.job(ev.ID)
	if j.State != queue.StateQueued || !j.Due.Equal(t0.Add(5*time.Second)) || !strings.Contains(j.Reason, "500") {
		t.Fatalf("after a 500: %s due %v (%s), want queued for 5s later with the status", j.State, j.Due, j.Reason)
	}
	if n := e.process(); n != 0 {
		t.Fatalf("the job was retried before its backoff")
	}
	e.clk.Advance(5 * time.Second)
	e.process()
	if j := e.job(ev.ID); j.State != queue.StateSent || j.Attempts != 2 {
		t.Fatalf("after a 200: %s after %d attempts, want sent after 2", j.State, j.Attempts)
	}
	e.clk.Advance(time.Hour)
	if n := e.process(); n != 0 {
		t.Errorf("a delivered job was leased again")
	}
	e.check(2)
	if got := e.posts[1]; got != ev {
		t.Errorf("the web app got %+v, want %+v", got, ev)
	}
	e.noOutgoingLog()
}

// A sender that dies mid-POST leaves its job leased; when the lease runs
// out the job is due again and the POST is made again.
func TestACrashMidPOSTIsRetriedWhenTheLeaseRunsOut(t *testing.T) {
	inFlight := make(chan struct{})
	e := newEnv(t, func(n int, _ http.ResponseWriter, r *http.Request) {
		if n == 1 {
			close(inFlight)
			<-r.Context().Done() // the sender goes away before the answer
		}
	})
	ev := e.enqueue("m1")
	// The crashed sender: it leases the job and starts the POST, and
	// never records an outcome.
	var leases []queue.Lease
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		leases, err = e.q.Lease(tx, e.clk.Now(), 8, nil)
		return err
	}); err != nil || len(leases) != 1 {
		t.Fatalf("lease: %v, %d leases", err, len(leases))
	}
	ctx, crash := context.WithCancel(context.Background())
	go func() { <-inFlight; crash() }()
	if _, err := e.s.Send(ctx, leases[0].Job, leases[0].Body); err == nil {
		t.Fatal("the interrupted POST succeeded")
	}

	if n := e.process(); n != 0 {
		t.Fatal("a leased job was handed out again before its lease ran out")
	}
	e.clk.Advance(queue.DefaultLease)
	if n := e.process(); n != 1 {
		t.Fatalf("%d jobs processed when the lease ran out, want 1", n)
	}
	j := e.job(ev.ID)
	if j.State != queue.StateSent || j.Attempts != 2 {
		t.Fatalf("%s after %d attempts, want sent after 2", j.State, j.Attempts)
	}
	// Were the first sender alive after all, its outcome comes too late.
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		return e.q.Complete(tx, leases[0], queue.Result{}, context.Canceled, e.clk.Now())
	}); err != nil {
		t.Fatal(err)
	}
	if j := e.job(ev.ID); j.State != queue.StateSent {
		t.Errorf("a lost lease's outcome changed the job to %s", j.State)
	}
	e.check(2)
}

// A web app that never answers 2xx: the job is retried with backoff until
// the queue's MaxAge, then failed; it is kept, so an operator can retry it.
func TestMaxAgeFailsTheJob(t *testing.T) {
	var up atomic.Bool
	e := newEnv(t, func(_ int, w http.ResponseWriter, _ *http.Request) {
		if !up.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	ev := e.enqueue("m1")
	var j queue.Job
	for i := 0; ; i++ {
		e.process()
		if j = e.job(ev.ID); !j.State.Live() || i > 100 {
			break
		}
		e.clk.Advance(j.Due.Sub(e.clk.Now()))
	}
	if j.State != queue.StateFailed || !strings.Contains(j.Reason, "no success within 1h0m0s") {
		t.Fatalf("%s (%s), want failed for its age", j.State, j.Reason)
	}
	// 5s, 10s ... 40s, then every minute up to the hour: 63 tries.
	attempts := j.Attempts
	if attempts != 63 {
		t.Errorf("%d attempts in an hour, want 63", attempts)
	}
	e.clk.Advance(time.Hour)
	if n := e.process(); n != 0 {
		t.Error("a failed job was tried again")
	}
	e.check(attempts)
	e.noOutgoingLog()

	up.Store(true)
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		_, err := e.q.Retry(tx, ev.ID)
		return err
	}); err != nil {
		t.Fatalf("retry a failed webhook job: %v", err)
	}
	e.process()
	if j := e.job(ev.ID); j.State != queue.StateSent {
		t.Errorf("after an operator's retry: %s", j.State)
	}
}

// The queue lists webhook jobs with the emails, by kind, with what they
// are about.
func TestQueueListShowsTheWebhookJob(t *testing.T) {
	e := newEnv(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	ev := e.enqueue("m1")
	var jobs []queue.Job
	if err := e.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		jobs, err = queue.List(tx, 10)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 1 {
		t.Fatalf("%d jobs listed, want 1", len(jobs))
	}
	j := jobs[0]
	if j.ID != ev.ID || j.Kind != queue.KindWebhook || j.State != queue.StateQueued || j.Conversation != "c1" ||
		len(j.Messages) != 1 || j.Messages[0] != "m1" || !j.Due.Equal(t0) {
		t.Errorf("listed %+v", j)
	}
}

func TestEnqueueRefusesAnOversizedEvent(t *testing.T) {
	e := newEnv(t, func(int, http.ResponseWriter, *http.Request) {})
	ev := Event{ID: store.NewID(t0), Type: TypeMessageCreated, Author: strings.Repeat("x", MaxPayload), Time: t0}
	err := e.db.Update(context.Background(), func(tx *store.Tx) error { return Enqueue(tx, ev) })
	if err == nil || !strings.Contains(err.Error(), "over") {
		t.Errorf("a %d-byte event: %v", MaxPayload, err)
	}
}

func TestMigrateOutboxMovesWaitingEvents(t *testing.T) {
	e := newEnv(t, func(int, http.ResponseWriter, *http.Request) {})
	ev := Event{ID: store.NewID(t0), Type: TypeMessageCreated, Conversation: "c1", Message: "m1", Time: t0}
	rec, _ := json.Marshal(map[string]any{"event": ev, "attempts": 3, "next_try": t0.Add(time.Hour)})
	if err := e.db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.Put(outboxBucket, []byte(ev.ID), rec)
	}); err != nil {
		t.Fatal(err)
	}
	for want := 1; want >= 0; want-- {
		if n, err := MigrateOutbox(context.Background(), e.db, e.clk.Now()); err != nil || n != want {
			t.Fatalf("moved %d (%v), want %d", n, err, want)
		}
	}
	e.process()
	if j := e.job(ev.ID); j.State != queue.StateSent {
		t.Errorf("a moved event: %s", j.State)
	}
	e.check(1)
}

func TestVerifyRefusesTamperingAndOldTimestamps(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	h := Sign([]byte("k"), []byte(`{"a":1}`), now)
	if !Verify([]byte("k"), []byte(`{"a":1}`), h, now, time.Minute) {
		t.Fatal("a good signature failed")
	}
	if Verify([]byte("k"), []byte(`{"a":2}`), h, now, time.Minute) {
		t.Error("an altered body verified")
	}
	if Verify([]byte("other"), []byte(`{"a":1}`), h, now, time.Minute) {
		t.Error("another secret verified")
	}
	if Verify([]byte("k"), []byte(`{"a":1}`), h, now.Add(time.Hour), time.Minute) {
		t.Error("an old signature verified")
	}
}
