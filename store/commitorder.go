package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// CommitOrdered is the bucket whose rows ScanCommitted can read in
// commit order on PostgreSQL (the migration 0004 index covers it alone).
const CommitOrdered = "journal"

// ScanCommitted calls fn, oldest first, for at most limit keys of bucket
// that committed after the key after (nil: from the start) and that no
// later reader can see appear before them: a follower that passes the
// last key it was given as after never misses one.
//
// With bbolt, one writer, keys of the journal grow in commit order and
// this is a scan from after. On PostgreSQL, where batches that declared
// their locks commit side by side, a key drawn first may commit last: the
// rows are read in the order of the transactions that wrote them, and
// only those written by transactions older than every transaction still
// running (pg_snapshot_xmin), so a row that is still to commit always
// sorts after what was handed out. A long transaction anywhere in the
// cluster holds followers back until it ends; a cursor that is no longer
// in the bucket (pruned) falls back to key order.
func (db *DB) ScanCommitted(bucket string, after []byte, limit int, fn func(k, v []byte) error) error {
	if db.pg == nil || bucket != CommitOrdered {
		return db.View(context.Background(), func(tx *Tx) error {
			n := 0
			return tx.Scan(bucket, after, func(k, v []byte) (bool, error) {
				if after != nil && bytes.Equal(k, after) {
					return true, nil
				}
				n++
				return n < limit, fn(k, v)
			})
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), viewTimeout)
	defer cancel()
	tx, err := db.pg.beginRead(ctx) // past connections that died while idle, as View
	if err != nil {
		return err
	}
	defer tx.Rollback(context.Background())
	var rows pgx.Rows
	if after == nil {
		rows, err = tx.Query(ctx, sqlCommitFirst, limit)
	} else {
		var found bool
		err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM kv WHERE bucket = 'journal' AND key = $1 AND txid IS NOT NULL)`, after).Scan(&found)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		if !found {
			rows, err = tx.Query(ctx, sqlCommitByKey, after, limit)
		} else {
			rows, err = tx.Query(ctx, sqlCommitAfter, after, limit)
		}
	}
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var out []kvRow
	for rows.Next() {
		var r kvRow
		if err := rows.Scan(&r.k, &r.v); err != nil {
			rows.Close()
			return err
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return errors.Join(ErrUnavailable, err)
	}
	for _, r := range out {
		if err := fn(r.k, r.v); err != nil {
			return err
		}
	}
	return nil
}

const (
	sqlCommitFirst = `SELECT key, value FROM kv WHERE bucket = 'journal'
	AND txid < pg_snapshot_xmin(pg_current_snapshot())
	ORDER BY txid, key LIMIT $1`
	sqlCommitAfter = `SELECT key, value FROM kv WHERE bucket = 'journal'
	AND txid < pg_snapshot_xmin(pg_current_snapshot())
	AND (txid, key) > ((SELECT txid FROM kv WHERE bucket = 'journal' AND key = $1), $1)
	ORDER BY txid, key LIMIT $2`
	sqlCommitByKey = `SELECT key, value FROM kv WHERE bucket = 'journal'
	AND txid < pg_snapshot_xmin(pg_current_snapshot()) AND key > $1
	ORDER BY key LIMIT $2`
)
