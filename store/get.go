package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Get reads one key outside any transaction of the caller's: a copy of
// its value, or nil when it is absent. It is a View that reads one key,
// without the transaction: on PostgreSQL one statement and one round
// trip instead of BEGIN, the read and ROLLBACK. One key is consistent
// with itself; read several keys that must agree in one View.
func (db *DB) Get(ctx context.Context, bucket string, key []byte) ([]byte, error) {
	if db.pg == nil {
		var out []byte
		err := db.View(ctx, func(tx *Tx) error {
			if v := tx.Get(bucket, key); v != nil {
				out = append([]byte{}, v...)
			}
			return nil
		})
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	var err error
	// A pooled connection that died while idle (a database restart)
	// fails the read with nothing done: the next one is tried.
	for range warmReaders + 2 {
		var v []byte
		err = db.pg.pool.QueryRow(ctx, sqlGet, bucket, key).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil
		}
		if err == nil {
			if v == nil {
				v = []byte{}
			}
			return v, nil
		}
		var ce *pgconn.ConnectError
		if !isUnavailable(err) || ctx.Err() != nil || errors.As(err, &ce) {
			break // not a dead connection: no other one will do better
		}
	}
	if isUnavailable(err) {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil, err
}
