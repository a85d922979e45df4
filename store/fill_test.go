package store_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

// A committer whose batch is small while another batch of the node is in
// flight waits for more writes, for FillWait at most: its timer, and not
// a full batch, is what lets the write go.
func TestSmallBatchWaitsAtMostFillWait(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	asked := make(chan time.Duration, 4)
	fire := make(chan time.Time)
	db.SetAfter(func(d time.Duration) <-chan time.Time {
		asked <- d
		return fire
	})
	nop := func(*store.Tx) error { return nil }
	release := make(chan struct{})
	t.Cleanup(func() { // before Close, which waits for the held batch
		select {
		case <-release:
		default:
			close(release)
		}
	})
	held := holdBatch(t, db, release, nop, store.Locks("fill:a"))
	done := make(chan error, 1)
	go func() { done <- db.Update(context.Background(), nop, store.Locks("fill:b")) }()
	select {
	case d := <-asked:
		if d != store.FillWait {
			t.Fatalf("waited up to %v; want %v", d, store.FillWait)
		}
	case err := <-done:
		t.Fatalf("small batch committed without waiting for more writes (err %v)", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the second write neither waited nor committed")
	}
	select {
	case err := <-done:
		t.Fatalf("write committed before its wait ended (err %v)", err)
	default:
	}
	close(fire) // the bound is reached
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
}

// A writer with nothing else in flight on its node is never delayed:
// keyed, unkeyed and background writes one after another ask for no
// timer.
func TestLoneWriterDoesNotWait(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	var waits atomic.Int32
	db.SetAfter(func(d time.Duration) <-chan time.Time {
		waits.Add(1)
		return time.After(d)
	})
	ctx := context.Background()
	put := func(tx *store.Tx) error { return tx.Put("fill", []byte("k"), []byte("v")) }
	for i := 0; i < 20; i++ {
		for _, opts := range [][]store.UpdateOption{{store.Locks("fill:k")}, nil, {store.Background()}} {
			if err := db.Update(ctx, put, opts...); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := waits.Load(); n != 0 {
		t.Fatalf("lone writes waited %d times for more writes; want 0", n)
	}
}
