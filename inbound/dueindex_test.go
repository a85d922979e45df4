package inbound

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// indexMatches fails unless the due index holds exactly one key per
// pending email that no lease holds, the key its state makes.
func indexMatches(t *testing.T, db *store.DB) {
	t.Helper()
	err := db.View(context.Background(), func(tx *store.Tx) error {
		want := map[string]bool{}
		if err := tx.Scan(bucketPending, nil, func(k, v []byte) (bool, error) {
			var st State
			if err := decodeState(v, &st); err != nil {
				return false, err
			}
			if key := pending.DueKey(string(k), &st); key != nil {
				want[string(key)] = true
			}
			return true, nil
		}); err != nil {
			return err
		}
		got := map[string]bool{}
		if err := tx.Scan(bucketDue, nil, func(k, _ []byte) (bool, error) { got[string(k)] = true; return true, nil }); err != nil {
			return err
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			return fmt.Errorf("due index %q; the states make %q", keysOf(got), keysOf(want))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func keysOf(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The claim's index follows every turn of an email's lease, on both
// backends: a new email is due at once, a claim takes it out, a deferral
// puts it back at its next attempt (not listed before, listed from then
// on, and its time is the next wake), a release puts it back at once, a
// finish or a failure leaves nothing, a requeue puts it back.
func TestDueIndexFollowsTheLease(t *testing.T) {
	for name, open := range map[string]func(t *testing.T) *store.DB{
		"bbolt": func(t *testing.T) *store.DB {
			db, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T) *store.DB { return pgtest.Open(t, t.TempDir(), store.Options{}) },
	} {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
			r := &Receiver{DB: open(t), Clock: clk, Hostname: "mx.test"}
			var ids []string
			for i := range 3 {
				ids = append(ids, storeOne(t, r, fmt.Sprintf("s%d@client.test", i), fmt.Sprintf("m%d@x", i), ""))
			}
			indexMatches(t, r.DB)
			due := func(at time.Time) ([]string, time.Time) {
				t.Helper()
				var cands []Candidate
				var next time.Time
				if err := r.DB.View(context.Background(), func(tx *store.Tx) (err error) {
					cands, next, err = Due(tx, Scan{Owner: "w", Now: at, Max: 10})
					return err
				}); err != nil {
					t.Fatal(err)
				}
				var out []string
				for _, c := range cands {
					out = append(out, c.ID)
				}
				return out, next
			}
			now := clk.Now()
			if got, _ := due(now); fmt.Sprint(got) != fmt.Sprint(ids) {
				t.Fatalf("due %v, want %v", got, ids)
			}
			claim := func(id string, at time.Time) State {
				t.Helper()
				var st State
				if err := update(t, r.DB, func(tx *store.Tx) (err error) {
					st, err = Claim(tx, id, "w", at, time.Minute, nil)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				return st
			}
			st0, st1, st2 := claim(ids[0], now), claim(ids[1], now), claim(ids[2], now)
			indexMatches(t, r.DB)
			if got, _ := due(now.Add(10 * time.Minute)); len(got) != 0 {
				t.Fatalf("leased emails listed by the index: %v", got)
			}
			next := now.Add(30 * time.Second)
			if err := update(t, r.DB, func(tx *store.Tx) error {
				if _, err := Defer(tx, ids[0], "w", st0.Fence, "dns down", next); err != nil {
					return err
				}
				if err := Release(tx, ids[1], "w", st1.Fence, time.Time{}); err != nil {
					return err
				}
				return Finish(tx, ids[2], "w", st2.Fence)
			}); err != nil {
				t.Fatal(err)
			}
			indexMatches(t, r.DB)
			if got, wake := due(now); fmt.Sprint(got) != fmt.Sprint(ids[1:2]) || !wake.Equal(next) {
				t.Fatalf("due %v, next %v; want %v, %v", got, wake, ids[1:2], next)
			}
			if got, _ := due(next); fmt.Sprint(got) != fmt.Sprint(ids[:2]) {
				t.Fatalf("at the retry: due %v, want %v", got, ids[:2])
			}
			st0 = claim(ids[0], next)
			if err := update(t, r.DB, func(tx *store.Tx) error { return Fail(tx, ids[0], "w", st0.Fence, "gone", next) }); err != nil {
				t.Fatal(err)
			}
			indexMatches(t, r.DB)
			if got, _ := due(next); fmt.Sprint(got) != fmt.Sprint(ids[1:2]) {
				t.Fatalf("after a failure: due %v, want %v", got, ids[1:2])
			}
			if err := update(t, r.DB, func(tx *store.Tx) error { return Requeue(tx, ids[0]) }); err != nil {
				t.Fatal(err)
			}
			indexMatches(t, r.DB)
			if got, _ := due(next); fmt.Sprint(got) != fmt.Sprint(ids[:2]) {
				t.Fatalf("after a requeue: due %v, want %v", got, ids[:2])
			}
		})
	}
}

// A key the email no longer has (the scan's snapshot was older than
// another node's claim, or an older deskmail wrote the email) is put
// right by the claim that meets it, and the email is not claimed twice.
func TestClaimPutsAStaleDueKeyRight(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	a := storeOne(t, r, "ann@client.test", "a@x", "")
	b := storeOne(t, r, "bob@client.test", "b@x", "")
	now := clk.Now()
	var cands []Candidate
	r.DB.View(context.Background(), func(tx *store.Tx) (err error) {
		cands, _, err = Due(tx, Scan{Owner: "w1", Now: now, Max: 10})
		return err
	})
	if len(cands) != 2 {
		t.Fatalf("due %+v", cands)
	}
	// Another worker claims a and gives it back with a wait; b is
	// finished and gone; both after the scan above.
	if err := update(t, r.DB, func(tx *store.Tx) error {
		st, err := Claim(tx, a, "w2", now, time.Minute, nil)
		if err != nil {
			return err
		}
		if err := Release(tx, a, "w2", st.Fence, now.Add(time.Minute)); err != nil {
			return err
		}
		st, err = Claim(tx, b, "w2", now, time.Minute, nil)
		if err != nil {
			return err
		}
		return Finish(tx, b, "w2", st.Fence)
	}); err != nil {
		t.Fatal(err)
	}
	// And the stale keys come back, as an older node would leave them.
	if err := update(t, r.DB, func(tx *store.Tx) error {
		for _, c := range cands {
			if err := tx.Put(bucketDue, c.due.Key, nil); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range cands {
		var err error
		// As the dispatcher does: a claim that fails is passed over, the
		// rest of the function's writes stay.
		if uerr := update(t, r.DB, func(tx *store.Tx) error {
			_, err = ClaimCandidate(tx, c, "w1", now, time.Minute, nil, nil)
			return nil
		}); uerr != nil {
			t.Fatal(uerr)
		}
		if !isNotClaimable(err) {
			t.Errorf("claim of %s from a stale key: %v, want not claimable", c.ID, err)
		}
	}
	indexMatches(t, r.DB)
}

func isNotClaimable(err error) bool { return errors.Is(err, ErrNotClaimable) }
