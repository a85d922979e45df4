package inbound

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/deskmail/deskmail/store"
)

// The backlog's refresh (Load, the pipeline's at every rescan) reads the
// store's totals in a snapshot while the accepts and the pipeline's
// commits go on, each moving the counts after its commit. Load used to
// Set the counts to the snapshot's, undoing every Add and Remove made
// beside it: an email finished during the read stayed counted until the
// next rescan, and the accept benchmark's drain (which waits for the
// pending gauge to read 0) waited 5 s for emails all processed already.
// Load's read is held open (afterTotals) while each race happens.
func TestBacklogLoadKeepsTheCommitsBesideIt(t *testing.T) {
	ctx := context.Background()
	r, clk := newReceiver(t, Limits{})
	b := &Backlog{}
	r.Backlog = b
	first := storeOne(t, r, "a@x.test", "1@x", "")
	storeOne(t, r, "b@x.test", "2@x", "")
	if err := b.Load(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	check := func(what string) {
		t.Helper()
		var n, sz int64
		if err := r.DB.View(ctx, func(tx *store.Tx) (err error) { n, sz, err = PendingTotals(tx); return err }); err != nil {
			t.Fatal(err)
		}
		if c, cb := b.Pending(); c != n || cb != sz {
			t.Errorf("%s: backlog %d emails, %d bytes; the store holds %d, %d", what, c, cb, n, sz)
		}
		if g := testutil.ToFloat64(metricPending); g != float64(n) {
			t.Errorf("%s: the pending gauge reads %v, the store holds %d", what, g, n)
		}
	}
	check("quiet")

	// A worker finishes an email while Load reads (after its snapshot):
	// its Remove must stand.
	b.afterTotals = func() {
		b.afterTotals = nil
		st := stateOf(t, r.DB, first)
		b.Begin(st.Size)
		if err := update(t, r.DB, func(tx *store.Tx) error {
			st, err := Claim(tx, first, "w", clk.Now(), time.Minute, nil)
			if err != nil {
				return err
			}
			return Finish(tx, first, "w", st.Fence)
		}); err != nil {
			t.Fatal(err)
		}
		b.Remove(st.Size)
		b.Done(st.Size)
	}
	if err := b.Load(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	check("an email finished during the read")

	// An accept commits while Load reads: its Add must stand.
	b.afterTotals = func() {
		b.afterTotals = nil
		storeOne(t, r, "c@x.test", "3@x", "")
	}
	if err := b.Load(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	check("an email stored during the read")

	// An accept committed before Load's snapshot, its Add still to come
	// (the session between its commit and the Add): not counted twice.
	plain := *r
	plain.Backlog = nil
	b.Begin(100)
	id := storeOne(t, &plain, "d@x.test", "4@x", "")
	if err := b.Load(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	b.Add(stateOf(t, r.DB, id).Size)
	b.Done(100)
	check("an email committed before the read, counted after it")

	// What no commit beside the read explains (another node's emails, an
	// operator's re-queue) is put right, exactly when nothing ran beside.
	b.Set(40, 1)
	if err := b.Load(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	check("counts off by another node's emails")
	// ... and by what is beyond the commits running beside it otherwise.
	b.Set(40, 1)
	b.Begin(0)
	if err := b.Load(ctx, r.DB); err != nil {
		t.Fatal(err)
	}
	b.Done(0)
	if c, _ := b.Pending(); c < 3 || c > 4 {
		t.Errorf("off by 37 with a commit in flight: %d emails counted, want the store's 3, give or take that commit", c)
	}
}

func stateOf(t *testing.T, db *store.DB, id string) State {
	t.Helper()
	var st State
	if err := db.View(context.Background(), func(tx *store.Tx) (err error) {
		st, _, err = getState(tx, bucketPending, id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return st
}
