package webhook

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

func TestRetriedUntil2xxAndSigned(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secret := []byte("s3cret")
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	var mu sync.Mutex
	var calls, delivered int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		calls++
		if !Verify(secret, body, r.Header.Get(SignatureHeader), clk.Now(), 5*time.Minute) {
			t.Errorf("signature does not verify: %s", r.Header.Get(SignatureHeader))
		}
		if calls == 1 {
			w.WriteHeader(http.StatusInternalServerError)
			return
		}
		delivered++
	}))
	defer srv.Close()
	e := Event{ID: store.NewID(clk.Now()), Type: TypeMessageCreated, Conversation: "c1", Message: "m1", Time: clk.Now()}
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return Enqueue(tx, e) }); err != nil {
		t.Fatal(err)
	}
	w := NewWorker(Worker{DB: db, URL: srv.URL, Secret: secret, Clock: clk, Jitter: func() float64 { return 1 }})
	next := w.RunOnce(context.Background())
	if want := clk.Now().Add(5 * time.Second); !next.Equal(want) {
		t.Fatalf("after a 500 the next try is %v, want %v", next, want)
	}
	if next := w.RunOnce(context.Background()); !next.Equal(clk.Now().Add(5 * time.Second)) {
		t.Fatalf("a job retried before its backoff: next %v", next)
	}
	clk.Advance(5 * time.Second)
	if next := w.RunOnce(context.Background()); !next.IsZero() {
		t.Errorf("outbox not empty after a 200: next %v", next)
	}
	w.RunOnce(context.Background())
	if calls != 2 || delivered != 1 {
		t.Errorf("calls=%d delivered=%d, want 2 and 1", calls, delivered)
	}
	if n, _ := Pending(db); n != 0 {
		t.Errorf("%d pending", n)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	w := NewWorker(Worker{MinBackoff: time.Second, MaxBackoff: 10 * time.Second, Jitter: func() float64 { return 1 }})
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, d := range want {
		if got := w.backoff(i + 1); got != d {
			t.Errorf("attempt %d: %v, want %v", i+1, got, d)
		}
	}
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

// Run waits on the injected clock between attempts: the retry happens
// when the fake clock is advanced, without sleeping through the backoff.
func TestRunRetriesOnTheClock(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	got := make(chan int, 10)
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		got <- n
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	e := Event{ID: store.NewID(clk.Now()), Type: TypeMessageCreated, Time: clk.Now()}
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return Enqueue(tx, e) }); err != nil {
		t.Fatal(err)
	}
	w := NewWorker(Worker{DB: db, URL: srv.URL, Secret: []byte("k"), Clock: clk, Jitter: func() float64 { return 1 }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor := func(want int) {
		t.Helper()
		select {
		case n := <-got:
			if n != want {
				t.Fatalf("attempt %d, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("attempt %d never came", want)
		}
	}
	waitFor(1)
	// The worker parks on the clock for the 5 s backoff.
	deadline := time.Now().Add(10 * time.Second)
	for clk.Waiters() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the worker never waited on the clock")
		}
		time.Sleep(time.Millisecond)
	}
	clk.Advance(5 * time.Second)
	waitFor(2)
	deadline = time.Now().Add(10 * time.Second)
	for {
		if p, _ := Pending(db); p == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("delivered event still in the outbox")
		}
		time.Sleep(time.Millisecond)
	}
}
