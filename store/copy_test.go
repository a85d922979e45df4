package store_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// A data folder copied to PostgreSQL and back keeps every key, every
// sequence and every large body, and a non-empty destination is refused.
func TestCopyThereAndBack(t *testing.T) {
	src, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	update(t, src, func(tx *store.Tx) error {
		for i := range 2500 {
			if err := tx.Put("journal", fmt.Appendf(nil, "%06d", i), []byte("v")); err != nil {
				return err
			}
		}
		for range 7 {
			if _, err := tx.Sequence("journal"); err != nil {
				return err
			}
		}
		return tx.Put("people", []byte("ann"), []byte(`{"id":"ann"}`))
	})
	w, _ := src.NewSpoolWriter()
	big := bytes.Repeat([]byte("x"), 300_000)
	w.Write(big)
	if err := w.Commit("m1"); err != nil {
		t.Fatal(err)
	}
	pg := pgtest.Open(t, t.TempDir(), store.Options{})
	rep, err := store.Copy(context.Background(), src, pg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Buckets["journal"] != 2500 || rep.Buckets["people"] != 1 || rep.Bodies != 1 {
		t.Errorf("report %+v", rep)
	}
	var seq uint64
	update(t, pg, func(tx *store.Tx) (err error) { seq, err = tx.Sequence("journal"); return err })
	if seq != 8 {
		t.Errorf("sequence after copy = %d, want 8", seq)
	}
	if _, err := store.Copy(context.Background(), src, pg); err == nil {
		t.Error("copy into a non-empty store succeeded")
	}
	back, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer back.Close()
	if rep, err = store.Copy(context.Background(), pg, back); err != nil || rep.Buckets["journal"] != 2500 || rep.Bodies != 1 {
		t.Fatalf("copy back: %+v %v", rep, err)
	}
	r, err := back.OpenSpool("m1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, big) {
		t.Error("large body changed on the way")
	}
	update(t, back, func(tx *store.Tx) (err error) { seq, err = tx.Sequence("journal"); return err })
	if seq != 9 {
		t.Errorf("sequence after copying back = %d, want 9", seq)
	}
}
