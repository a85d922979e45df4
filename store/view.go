package store

import "context"

// ViewValue runs fn in a View and returns what it read: the value fn
// returned (as it returned it, even with an error) and the View's error.
func ViewValue[T any](ctx context.Context, db *DB, fn func(*Tx) (T, error)) (T, error) {
	var v T
	err := db.View(ctx, func(tx *Tx) error {
		var err error
		v, err = fn(tx)
		return err
	})
	return v, err
}
