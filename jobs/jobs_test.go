package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

const (
	bucket = "jobs_test"
	doneB  = "jobs_test_done"
)

// rec is a test record: the engine's lease and nothing else, stored as
// JSON with every lease field (the engine's JSON form leaves the times
// to the package).
type rec struct{ L jobs.Lease }

type recJSON struct {
	Owner       string
	Fence       uint64
	Until, Next time.Time
	Attempts    int
	Reason      string
}

var table = jobs.Table[rec]{
	Bucket: bucket,
	Lock:   func(id string) string { return "test:" + id },
	Get: func(tx *store.Tx, id string) (rec, bool, error) {
		v := tx.Get(bucket, []byte(id))
		if v == nil {
			return rec{}, false, nil
		}
		var j recJSON
		err := json.Unmarshal(v, &j)
		return rec{jobs.Lease{Owner: j.Owner, Fence: j.Fence, Until: j.Until, Next: j.Next, Attempts: j.Attempts, Reason: j.Reason}}, true, err
	},
	Put: func(tx *store.Tx, id string, r *rec) error {
		l := r.L
		v, err := json.Marshal(recJSON{l.Owner, l.Fence, l.Until, l.Next, l.Attempts, l.Reason})
		if err != nil {
			return err
		}
		return tx.Put(bucket, []byte(id), v)
	},
	Lease: func(r *rec) *jobs.Lease { return &r.L },
}

// backends runs fn on bbolt and on a PostgreSQL database; open gives
// another node on the same store (PostgreSQL) or the same DB (bbolt,
// which one process owns).
func backends(t *testing.T, fn func(t *testing.T, db *store.DB, open func() *store.DB)) {
	t.Run("bbolt", func(t *testing.T) {
		db, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, db, func() *store.DB { return db })
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.NewDatabase(t)
		open := func() *store.DB {
			db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		fn(t, open(), open)
	})
}

func put(t *testing.T, db *store.DB, ids ...string) {
	t.Helper()
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		for _, id := range ids {
			if err := table.Put(tx, id, &rec{}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func claim(db *store.DB, id, owner string, now time.Time, d time.Duration, stale func(string) bool) (jobs.Claim, error) {
	var r rec
	err := db.Update(context.Background(), func(tx *store.Tx) (err error) {
		r, err = table.Claim(tx, id, jobs.Claimer{Owner: owner, For: d, Stale: stale}, now, nil)
		return err
	}, store.Locks())
	return r.L.Held(), err
}

func get(t *testing.T, db *store.DB, id string) jobs.Lease {
	t.Helper()
	var r rec
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) {
		r, _, err = table.Get(tx, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r.L
}

func update(db *store.DB, id string, fn func(tx *store.Tx) error) error {
	return db.Update(context.Background(), fn, store.Locks(table.Lock(id)))
}

var t0 = time.Date(2026, 12, 7, 5, 0, 0, 0, time.UTC)

// A live lease keeps others out; once it ran out another owner claims
// with a new fence, and the first owner's check, renewal, release,
// deferral and end all fail and write nothing.
func TestExpiredLeaseIsTakenOverWithANewFence(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, open func() *store.DB) {
		other := open()
		put(t, db, "a")
		a, err := claim(db, "a", "n1/w", t0, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := claim(other, "a", "n2/w", t0.Add(59*time.Second), time.Minute, nil); !errors.Is(err, jobs.ErrNotClaimable) {
			t.Fatalf("claimed under a live lease: %v", err)
		}
		b, err := claim(other, "a", "n2/w", t0.Add(time.Minute), time.Minute, nil)
		if err != nil {
			t.Fatalf("claim of an expired lease: %v", err)
		}
		if b.Fence <= a.Fence {
			t.Fatalf("fence %d after %d", b.Fence, a.Fence)
		}
		late := []func(tx *store.Tx) error{
			func(tx *store.Tx) error { _, err := table.Check(tx, "a", a); return err },
			func(tx *store.Tx) error {
				_, err := table.Renew(tx, "a", a, t0.Add(time.Minute), time.Minute)
				return err
			},
			func(tx *store.Tx) error { _, err := table.Release(tx, "a", a, time.Time{}, nil); return err },
			func(tx *store.Tx) error { _, err := table.Defer(tx, "a", a, "late", t0, nil); return err },
		}
		for i, fn := range late {
			if err := update(db, "a", fn); !errors.Is(err, jobs.ErrClaimLost) {
				t.Errorf("late owner's write %d: %v, want ErrClaimLost", i, err)
			}
		}
		l := get(t, db, "a")
		if l.Owner != "n2/w" || l.Fence != b.Fence || l.Attempts != 2 || l.Reason != "" {
			t.Errorf("after the late writes: %+v", l)
		}
		// The new owner's own claim is good; once it ended, no one's is.
		if err := update(other, "a", func(tx *store.Tx) error { _, err := table.Check(tx, "a", b); return err }); err != nil {
			t.Errorf("the new owner's check: %v", err)
		}
		if err := update(other, "a", func(tx *store.Tx) error {
			_, err := table.Defer(tx, "a", b, "relay down", t0.Add(2*time.Hour), nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if err := update(other, "a", func(tx *store.Tx) error { _, err := table.Check(tx, "a", b); return err }); !errors.Is(err, jobs.ErrClaimLost) {
			t.Errorf("check after the claim was deferred: %v", err)
		}
		if err := update(db, "nope", func(tx *store.Tx) error { _, err := table.Check(tx, "nope", b); return err }); !errors.Is(err, jobs.ErrClaimLost) {
			t.Errorf("check of a missing record: %v", err)
		}
	})
}

// Release gives a claim back without counting the attempt; Defer counts
// it and keeps the reason; both honour their next attempt. Renew extends
// only once half of the lease is gone.
func TestReleaseDeferRenew(t *testing.T) {
	backends(t, func(t *testing.T, db *store.DB, _ func() *store.DB) {
		put(t, db, "r")
		c, err := claim(db, "r", "w", t0, time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		renew := func(at time.Time) bool {
			var ok bool
			if err := update(db, "r", func(tx *store.Tx) (err error) { ok, err = table.Renew(tx, "r", c, at, time.Minute); return err }); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if renew(t0.Add(29 * time.Second)) {
			t.Error("renewed with more than half of the lease left")
		}
		if !renew(t0.Add(31*time.Second)) || !get(t, db, "r").Until.Equal(t0.Add(91*time.Second)) {
			t.Errorf("renewal past half: %+v", get(t, db, "r"))
		}
		if err := update(db, "r", func(tx *store.Tx) error { _, err := table.Release(tx, "r", c, t0.Add(time.Hour), nil); return err }); err != nil {
			t.Fatal(err)
		}
		if l := get(t, db, "r"); l.Attempts != 0 || l.Owner != "" || !l.Until.IsZero() || !l.Next.Equal(t0.Add(time.Hour)) {
			t.Errorf("after release: %+v", l)
		}
		if _, err := claim(db, "r", "w", t0.Add(time.Hour-time.Second), time.Minute, nil); !errors.Is(err, jobs.ErrNotClaimable) {
			t.Errorf("claimed before the release's next: %v", err)
		}
		c, err = claim(db, "r", "w", t0.Add(time.Hour), time.Minute, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := update(db, "r", func(tx *store.Tx) error {
			_, err := table.Defer(tx, "r", c, "timeout", t0.Add(2*time.Hour), nil)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if l := get(t, db, "r"); l.Attempts != 1 || l.Reason != "timeout" || l.Owner != "" || !l.Next.Equal(t0.Add(2*time.Hour)) {
			t.Errorf("after defer: %+v", l)
		}
		if _, err := claim(db, "r", "w2", t0.Add(2*time.Hour-time.Second), time.Minute, nil); !errors.Is(err, jobs.ErrNotClaimable) {
			t.Errorf("claimed during the backoff: %v", err)
		}
		if _, err := claim(db, "r", "w2", t0.Add(2*time.Hour), time.Minute, nil); err != nil {
			t.Errorf("claim after the backoff: %v", err)
		}
		if l := get(t, db, "r"); l.Attempts != 2 {
			t.Errorf("attempts %d after two claims not given back", l.Attempts)
		}
	})
}

// An owner known dead (a previous run of this node) loses its lease at
// once; another live owner's is kept.
func TestStaleOwnerIsTakenOverAtOnce(t *testing.T) {
	l := jobs.Lease{}
	if err := l.Claim(jobs.Claimer{Owner: "n1/old", For: time.Hour}, t0); err != nil {
		t.Fatal(err)
	}
	if err := l.Claim(jobs.Claimer{Owner: "n2/x", For: time.Hour, Stale: func(string) bool { return false }}, t0); !errors.Is(err, jobs.ErrNotClaimable) {
		t.Errorf("live lease taken: %v", err)
	}
	old := l.Held()
	if err := l.Claim(jobs.Claimer{Owner: "n1/new", For: time.Hour, Stale: func(o string) bool { return o == "n1/old" }}, t0); err != nil {
		t.Errorf("dead owner's lease kept: %v", err)
	}
	if l.Check(old) == nil || l.Attempts != 2 {
		t.Errorf("after takeover: %+v", l)
	}
	var zero jobs.Lease
	if zero.Check(jobs.Claim{}) == nil {
		t.Error("a record never claimed passes the check of an empty claim")
	}
	if err := zero.Claim(jobs.Claimer{Owner: "w"}, t0); err == nil {
		t.Error("a claim without a lease")
	}
	// Abandon (crash recovery): the attempt counts, the claim is gone.
	c := zero
	_ = c.Claim(jobs.Claimer{Owner: "", For: time.Minute}, t0)
	held := c.Held()
	c.Abandon("sender stopped", t0)
	if c.Check(held) == nil || c.Attempts != 1 || c.Reason != "sender stopped" || !c.Claimable("x", t0, nil) {
		t.Errorf("after abandon: %+v", c)
	}
}

// Two claimers on two nodes never hold one record with the same fence:
// one wins the lock (SKIP LOCKED), the other skips it without waiting.
func TestSkipLockedClaimOnPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var nodes [2]*store.DB
	for i := range nodes {
		db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	put(t, nodes[0], "x", "y")
	// Node 0 holds x's lock in an open transaction.
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- nodes[0].Update(context.Background(), func(tx *store.Tx) error {
			held, err := table.TryLock(tx, []string{"x"})
			if err != nil || len(held) != 1 {
				return fmt.Errorf("lock x: %v %v", held, err)
			}
			close(holding)
			<-release
			return nil
		}, store.Locks())
	}()
	<-holding
	var held []string
	if err := nodes[1].Update(context.Background(), func(tx *store.Tx) (err error) {
		held, err = table.TryLock(tx, []string{"x", "y"})
		return err
	}, store.Locks()); err != nil {
		t.Fatal(err)
	}
	if len(held) != 1 || held[0] != "y" {
		t.Errorf("node 1 holds %v while node 0 holds x, want [y]", held)
	}
	if _, err := claim(nodes[1], "x", "n1", t0, time.Minute, nil); !errors.Is(err, jobs.ErrNotClaimable) {
		t.Errorf("claim of a record locked elsewhere: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := claim(nodes[1], "x", "n1", t0, time.Minute, nil); err != nil {
		t.Errorf("claim once the lock is free: %v", err)
	}
}

// Many workers on two nodes claim, work on and end records, on a clock
// that runs fast enough for leases to run out mid-work: some workers
// abandon their claims (a crash), some give them back, some defer, and
// some come back late to end a claim they held. Every record is ended
// exactly once, and no (record, fence) is ever handed to two claimers.
func TestManyClaimersOnPostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var nodes [2]*store.DB
	for i := range nodes {
		db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = db
	}
	const records, workers = 60, 8
	ids := make([]string, records)
	for i := range ids {
		ids[i] = fmt.Sprintf("r%03d", i)
	}
	put(t, nodes[0], ids...)

	var tick atomic.Int64 // the clock: a millisecond per operation
	now := func() time.Time { return t0.Add(time.Duration(tick.Add(1)) * time.Millisecond) }
	const lease = 40 * time.Millisecond
	var mu sync.Mutex
	type grant struct {
		id    string
		fence uint64
	}
	granted := map[grant]string{} // who was handed each (record, fence)
	// The fences handed out per record. Workers note their grants after
	// their commit, in no particular order (one may note fence 2 after
	// another noted the takeover's 3), so the order is checked at the
	// end: every record's fences are exactly 1..n, each handed once.
	fences := map[string][]uint64{}
	ended := map[string]int{}

	end := func(db *store.DB, id string, c jobs.Claim) error {
		return update(db, id, func(tx *store.Tx) error {
			if _, err := table.Check(tx, id, c); err != nil {
				return err
			}
			n := 0
			if v := tx.Get(doneB, []byte(id)); v != nil {
				n = int(v[0])
			}
			if err := tx.Put(doneB, []byte(id), []byte{byte(n + 1)}); err != nil {
				return err
			}
			return tx.Delete(bucket, []byte(id))
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var failures atomic.Int64
	fail := func(format string, args ...any) { failures.Add(1); t.Errorf(format, args...) }
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db := nodes[w%2]
			owner := fmt.Sprintf("n%d/w%d", w%2, w)
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			var late []struct {
				id string
				c  jobs.Claim
			}
			for ctx.Err() == nil && failures.Load() == 0 {
				// Scan for due records, then claim a few with SKIP LOCKED.
				at := now()
				var due []string
				if err := db.View(ctx, func(tx *store.Tx) error {
					due = due[:0]
					return tx.Scan(bucket, nil, func(k, v []byte) (bool, error) {
						r, _, err := table.Get(tx, string(k))
						if err == nil && r.L.Claimable(owner, at, nil) {
							due = append(due, string(k))
						}
						return len(due) < 4, err
					})
				}); err != nil {
					fail("scan: %v", err)
					return
				}
				if len(due) == 0 {
					var left int
					_ = db.View(ctx, func(tx *store.Tx) error { left = tx.Count(bucket); return nil })
					if left == 0 {
						return
					}
					tick.Add(5) // all leased or waiting: let time pass
					continue
				}
				type got struct {
					id string
					c  jobs.Claim
				}
				var claimed []got
				err := db.Update(ctx, func(tx *store.Tx) error {
					claimed = claimed[:0]
					held, err := table.TryLock(tx, due)
					if err != nil {
						return err
					}
					for _, id := range held {
						r, err := table.Claim(tx, id, jobs.Claimer{Owner: owner, For: lease}, at, nil)
						if errors.Is(err, jobs.ErrNotClaimable) {
							continue
						}
						if err != nil {
							return err
						}
						claimed = append(claimed, got{id, r.L.Held()})
					}
					return nil
				}, store.Locks())
				if err != nil {
					fail("claim: %v", err)
					return
				}
				mu.Lock()
				for _, g := range claimed {
					if prev, ok := granted[grant{g.id, g.c.Fence}]; ok {
						fail("%s fence %d handed to %s and %s", g.id, g.c.Fence, prev, g.c.Owner)
					}
					granted[grant{g.id, g.c.Fence}] = g.c.Owner
					fences[g.id] = append(fences[g.id], g.c.Fence)
				}
				mu.Unlock()
				for _, g := range claimed {
					var err error
					switch rng.IntN(10) {
					case 0: // crash: the lease runs out
						continue
					case 1: // come back later, maybe after a takeover
						late = append(late, struct {
							id string
							c  jobs.Claim
						}{g.id, g.c})
						continue
					case 2:
						err = update(db, g.id, func(tx *store.Tx) error {
							_, err := table.Release(tx, g.id, g.c, time.Time{}, nil)
							return err
						})
					case 3:
						err = update(db, g.id, func(tx *store.Tx) error {
							_, err := table.Defer(tx, g.id, g.c, "temporary", now().Add(10*time.Millisecond), nil)
							return err
						})
					default:
						err = end(db, g.id, g.c)
						if err == nil {
							mu.Lock()
							ended[g.id]++
							mu.Unlock()
						}
					}
					if err != nil && !errors.Is(err, jobs.ErrClaimLost) {
						fail("%s: %v", g.id, err)
					}
				}
				tick.Add(int64(rng.IntN(30)))
				if len(late) > 3 {
					for _, l := range late {
						err := end(db, l.id, l.c)
						switch {
						case err == nil:
							mu.Lock()
							ended[l.id]++
							mu.Unlock()
						case !errors.Is(err, jobs.ErrClaimLost):
							fail("%s late: %v", l.id, err)
						}
					}
					late = late[:0]
				}
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("the records were not all ended in time")
	}
	for _, id := range ids {
		got := slices.Sorted(slices.Values(fences[id]))
		for i, f := range got {
			if f != uint64(i+1) {
				t.Errorf("%s was handed fences %v; want 1..%d, each once", id, got, len(got))
				break
			}
		}
	}
	if err := nodes[1].View(context.Background(), func(tx *store.Tx) error {
		for _, id := range ids {
			v := tx.Get(doneB, []byte(id))
			if len(v) != 1 || v[0] != 1 || ended[id] != 1 {
				t.Errorf("%s ended %v times in the store, %d seen by the workers; want once", id, v, ended[id])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	takeovers := 0
	for _, f := range fences {
		if len(f) > 1 {
			takeovers++
		}
	}
	if takeovers == 0 {
		t.Error("no record was claimed twice: the test did not exercise takeovers")
	}
}

func TestBackoffGrowsIsCappedAndJitterIsBounded(t *testing.T) {
	b := jobs.Backoff{Base: time.Second, Max: time.Minute}
	want := []time.Duration{time.Second, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second, time.Minute, time.Minute}
	for i, w := range want {
		if got := b.Delay(i); got != w { // attempt 0 counts as 1
			t.Errorf("Delay(%d) = %s, want %s", i, got, w)
		}
	}
	if got := b.Delay(math.MaxInt); got != time.Minute {
		t.Errorf("Delay(MaxInt) = %s", got)
	}
	huge := jobs.Backoff{Base: time.Second, Max: time.Duration(math.MaxInt64)}
	if got := huge.Delay(200); got <= 0 {
		t.Errorf("a cap near the largest duration overflowed: %s", got)
	}
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		j := jobs.Backoff{Base: time.Minute, Max: 10 * time.Minute, Jitter: 0.2, Rand: func() float64 { return r }}
		for a := 1; a <= 8; a++ {
			plain := jobs.Backoff{Base: time.Minute, Max: 10 * time.Minute}.Delay(a)
			got := j.Delay(a)
			lo, hi := time.Duration(float64(plain)*0.8), time.Duration(float64(plain)*1.2)
			if got < lo || got > hi {
				t.Errorf("r=%v attempt %d: %s outside [%s, %s]", r, a, got, lo, hi)
			}
		}
	}
	if got := (jobs.Backoff{Base: time.Minute, Jitter: 0.2, Rand: func() float64 { return 0 }}).Delay(1); got != 48*time.Second {
		t.Errorf("low jitter = %s, want 48s", got)
	}
	if got := (jobs.Backoff{Base: time.Minute, Jitter: 5, Rand: func() float64 { return 0 }}).Delay(1); got != 0 {
		t.Errorf("jitter above 1 is taken as 1: got %s, want 0", got)
	}
	if got := (jobs.Backoff{}).Delay(3); got != 0 {
		t.Errorf("no base: %s", got)
	}
	if got := (jobs.Backoff{}).Or(jobs.Backoff{Base: time.Hour}).Delay(1); got != time.Hour {
		t.Errorf("Or: %s", got)
	}
	// Real randomness stays within the bounds too.
	j := jobs.Backoff{Base: time.Second, Max: time.Minute, Jitter: 0.5}
	for range 1000 {
		if d := j.Delay(3); d < 2*time.Second || d > 6*time.Second {
			t.Fatalf("random jitter out of bounds: %s", d)
		}
	}
}
