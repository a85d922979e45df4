package store_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// fillTimer is the fill gates' timer in a test: fire ends the wait of
// the batch that asked; asked is the bounds asked for.
type fillTimer struct {
	mu    sync.Mutex
	asked []time.Duration
	fire  chan time.Time
}

func (f *fillTimer) after(d time.Duration) <-chan time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, d)
	return f.fire
}

func (f *fillTimer) bounds() []time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.asked)
}

// fillStore opens a PostgreSQL store that records the size of every
// commit it makes, its fill gates on a timer of the test's.
func fillStore(t *testing.T) (*store.DB, func() []int, *fillTimer) {
	t.Helper()
	var mu sync.Mutex
	var sizes []int
	opts := store.Options{
		Observe: func(_ time.Duration, n int, _ error) { mu.Lock(); sizes = append(sizes, n); mu.Unlock() },
	}
	timer := &fillTimer{fire: make(chan time.Time, 1)}
	store.SetFillAfter(&opts, timer.after)
	db, err := store.OpenPostgres(context.Background(), pgtest.NewDatabase(t), t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, func() []int { mu.Lock(); defer mu.Unlock(); return slices.Clone(sizes) }, timer
}

// goPut runs a write of key under its own lock, of the given kind, in a
// goroutine; inside (if set) waits before the write.
func goPut(db *store.DB, key string, background bool, inside func()) chan error {
	done := make(chan error, 1)
	opts := []store.UpdateOption{store.Locks("fill:" + key)}
	if background {
		opts = append(opts, store.Background())
	}
	go func() {
		done <- db.Update(context.Background(), func(tx *store.Tx) error {
			if inside != nil {
				inside()
			}
			return tx.Put("fill", []byte(key), []byte("v"))
		}, opts...)
	}()
	return done
}

// untilTaken waits until the committers have taken every queued write.
func untilTaken(t *testing.T, db *store.DB) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for db.QueuedWrites() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a write was never taken off its queue")
		}
		runtime.Gosched()
	}
}

func answered(t *testing.T, what string, done chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: not answered", what)
	}
}

// held runs a write that stays in flight (its batch's transaction open)
// until release is called.
func held(t *testing.T, db *store.DB, background bool) (done chan error, release func()) {
	in, hold := make(chan struct{}), make(chan struct{})
	var once sync.Once
	done = goPut(db, "held", background, func() { once.Do(func() { close(in) }); <-hold })
	<-in
	var released sync.Once
	release = func() { released.Do(func() { close(hold) }) }
	t.Cleanup(release) // before the store's Close, on a failure too
	return done, release
}

// On PostgreSQL a write that finds another batch of its queue in flight
// waits for more writes and goes once its batch holds the fill target
// (one transaction for them all), instead of taking a free committer
// alone: two nodes whose sessions are few beside their committers commit
// fuller batches. Fails without the fill gate: the writes commit one by
// one.
func TestSmallBatchFillsBesideOneInFlight(t *testing.T) {
	for _, bg := range []bool{false, true} {
		t.Run(map[bool]string{false: "accepts", true: "background"}[bg], func(t *testing.T) {
			target, bgTarget := store.FillTargets()
			if bg {
				target = bgTarget
			}
			db, sizes, _ := fillStore(t)
			first, release := held(t, db, bg)
			var waiting []chan error
			for i := range target {
				if i > 0 {
					untilTaken(t, db) // gathered: the batch waits to fill
				}
				waiting = append(waiting, goPut(db, strconv.Itoa(i), bg, nil))
			}
			for i, done := range waiting { // while the first is still in flight
				answered(t, "write "+strconv.Itoa(i), done)
			}
			release()
			answered(t, "first", first)
			if got := sizes(); !slices.Equal(got, []int{target, 1}) {
				t.Errorf("commit sizes %v, want [%d 1]: the %d writes in one batch, then the held one", got, target, target)
			}
		})
	}
}

// The wait is bounded by the batch in flight: a small batch that gets no
// second write goes when the batch in flight ends, and a write that
// finds nothing in flight goes at once, alone.
func TestSmallBatchGoesWhenTheOneInFlightEnds(t *testing.T) {
	for _, bg := range []bool{false, true} {
		t.Run(map[bool]string{false: "accepts", true: "background"}[bg], func(t *testing.T) {
			db, sizes, _ := fillStore(t)
			answered(t, "lone", goPut(db, "lone", bg, nil))
			first, release := held(t, db, bg)
			second := goPut(db, "second", bg, nil)
			untilTaken(t, db)
			release()
			answered(t, "first", first)
			answered(t, "second", second)
			if got := sizes(); !slices.Equal(got, []int{1, 1, 1}) {
				t.Errorf("commit sizes %v, want [1 1 1]", got)
			}
		})
	}
}

// A batch in flight that waits on a lock (another node's accept of the
// same email) holds the next write back no longer than the bound, twice
// the queue's recent commit time: at the bound the small batch goes
// alone while the other is still in flight. Without the bound the second
// write waits for the held one.
func TestSmallBatchGoesAtTheBound(t *testing.T) {
	for _, bg := range []bool{false, true} {
		t.Run(map[bool]string{false: "accepts", true: "background"}[bg], func(t *testing.T) {
			db, sizes, timer := fillStore(t)
			first, release := held(t, db, bg)
			second := goPut(db, "second", bg, nil)
			untilTaken(t, db)
			timer.fire <- time.Time{}
			answered(t, "second", second) // while the first is in flight
			release()
			answered(t, "first", first)
			if got := sizes(); !slices.Equal(got, []int{1, 1}) {
				t.Errorf("commit sizes %v, want [1 1]", got)
			}
			b := timer.bounds()
			if len(b) != 1 || b[0] < time.Millisecond || b[0] > 100*time.Millisecond {
				t.Errorf("bounds asked %v, want one within [1ms, 100ms]", b)
			}
		})
	}
}
