package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/deskmail/deskmail/store"
)

// ViewValue returns what its function read in a View, and the function's
// error with the value it returned beside it.
func TestViewValue(t *testing.T) {
	db := backends()["bbolt"](t)
	update(t, db, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
	ctx := context.Background()
	v, err := store.ViewValue(ctx, db, func(tx *store.Tx) (string, error) { return string(tx.Get("b", []byte("k"))), nil })
	if v != "v" || err != nil {
		t.Errorf("read %q, %v; want v", v, err)
	}
	bad := errors.New("bad")
	n, err := store.ViewValue(ctx, db, func(*store.Tx) (int, error) { return 7, bad })
	if n != 7 || !errors.Is(err, bad) {
		t.Errorf("read %d, %v; want 7, bad", n, err)
	}
}
