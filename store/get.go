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
	var v []byte
	found := true
	err := db.readRetrying(ctx, func() error {
		err := db.pg.pool.QueryRow(ctx, sqlGet, bucket, key).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			found, err = false, nil
		}
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// readRetrying runs read, a statement outside any transaction, and runs it
// again while it fails because the pooled connection it took had died
// while idle (a database restart): such a read did nothing, and the next
// connection is tried. A failure of the database being away is
// ErrUnavailable.
func (db *DB) readRetrying(ctx context.Context, read func() error) error {
	var err error
	for range warmReaders + 2 {
		if err = read(); err == nil {
			return nil
		}
		var ce *pgconn.ConnectError
		if !isUnavailable(err) || ctx.Err() != nil || errors.As(err, &ce) {
			break // not a dead connection: no other one will do better
		}
	}
	if isUnavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
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
	err := db.readRetrying(ctx, func() error {
		// With the generic plan (sqlSnapshotPlans, in the same round
		// trip): PostgreSQL otherwise plans the statement afresh at every
		// call, a custom plan for a few keys looking cheaper than the
		// generic one (about a tenth of the server's CPU per email, end
		// to end, where every email's record is read so).
		var batch pgx.Batch
		batch.Queue(sqlSnapshotPlans)
		queueGetMany(&batch, buckets, ks, func(bucket string, k, v []byte) {
			for _, i := range at[cacheKey(bucket, k)] {
				out[i] = v
			}
		})
		return db.pg.pool.SendBatch(ctx, &batch).Close()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
