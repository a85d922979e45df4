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

// GetMany is Get for several keys at once: out[i] is a copy of the value
// of keys[i], nil when absent. On PostgreSQL one statement and one round
// trip, without a transaction (a statement sees one snapshot, so the
// values agree with each other); with bbolt one View.
func (db *DB) GetMany(ctx context.Context, keys ...Key) ([][]byte, error) {
	out := make([][]byte, len(keys))
	if db.pg == nil {
		err := db.View(ctx, func(tx *Tx) error {
			for i, k := range keys {
				if v := tx.Get(k.Bucket, k.Key); v != nil {
					out[i] = append([]byte{}, v...)
				}
			}
			return nil
		})
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	buckets, ks := make([]string, len(keys)), make([][]byte, len(keys))
	at := make(map[string][]int, len(keys))
	for i, k := range keys {
		buckets[i], ks[i] = k.Bucket, nonNil(k.Key)
		ck := cacheKey(k.Bucket, k.Key)
		at[ck] = append(at[ck], i)
	}
	var err error
	// A pooled connection that died while idle (a database restart)
	// fails the read with nothing done: the next one is tried.
	for range warmReaders + 2 {
		var rows pgx.Rows
		if rows, err = db.pg.pool.Query(ctx, sqlGetMany, buckets, ks); err == nil {
			err = collectMany(rows, func(bucket string, k, v []byte) {
				for _, i := range at[cacheKey(bucket, k)] {
					out[i] = v
				}
			})
			rows.Close()
		}
		if err == nil {
			return out, nil
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
