package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// Query is one read of DB.Snapshot: the keys of Bucket from From
// through To (both included), in order, at most Limit of them. A Get is
// From == To with Limit 1 (see Get).
type Query struct {
	Bucket   string
	From, To []byte
	Limit    int
}

// Get is the Query of one key.
func Get(bucket string, key []byte) Query { return Query{Bucket: bucket, From: key, To: key, Limit: 1} }

// KV is one key and its value, as Snapshot returns them.
type KV struct{ Key, Value []byte }

// maxSnapshotLimit bounds one Query's rows.
const maxSnapshotLimit = 4096

// Snapshot answers every query from one consistent snapshot of the
// store: what each query returns is what was committed at one moment. On
// PostgreSQL that is one statement on a pooled connection, one round trip
// with no BEGIN or COMMIT (a statement is atomic by itself); with bbolt
// one read transaction. out[i] holds query i's keys in order (empty when
// none); the slices are the caller's to keep.
//
// For a read whose answer ends a request without a write (an
// idempotent request that would change nothing), see ReadsAreDurable.
func (db *DB) Snapshot(ctx context.Context, qs ...Query) ([][]KV, error) {
	for _, q := range qs {
		if q.Limit <= 0 || q.Limit > maxSnapshotLimit {
			return nil, fmt.Errorf("store: snapshot of %s: limit %d out of 1..%d", q.Bucket, q.Limit, maxSnapshotLimit)
		}
	}
	out := make([][]KV, len(qs))
	if db.pg == nil {
		err := db.View(ctx, func(tx *Tx) error {
			for i, q := range qs {
				err := tx.Scan(q.Bucket, q.From, func(k, v []byte) (bool, error) {
					if bytes.Compare(k, q.To) > 0 {
						return false, nil
					}
					out[i] = append(out[i], KV{Key: bytes.Clone(k), Value: append([]byte{}, v...)})
					return len(out[i]) < q.Limit, nil
				})
				if err != nil {
					return err
				}
			}
			return nil
		})
		return out, err
	}
	ctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	buckets := make([]string, len(qs))
	froms, tos := make([][]byte, len(qs)), make([][]byte, len(qs))
	limits := make([]int32, len(qs))
	for i, q := range qs {
		buckets[i], froms[i], tos[i], limits[i] = q.Bucket, nonNil(q.From), nonNil(q.To), int32(q.Limit)
	}
	// With the generic plan (sqlSnapshotPlans): one index range scan per
	// query whatever the arrays hold, planned once per connection instead
	// of at every call.
	var batch pgx.Batch
	var scanErr error
	batch.Queue(sqlSnapshotPlans)
	batch.Queue(sqlSnapshot, textArray(buckets), byteaArray(froms), byteaArray(tos), limits).Query(func(rows pgx.Rows) error {
		binary := rawSnapshotRows(rows.FieldDescriptions())
		for rows.Next() {
			var i int64
			var kv KV
			if binary {
				// The row's key and value copied into one allocation
				// (rows.Scan makes one for each).
				raw := rows.RawValues()
				i = int64(be64(raw[0]))
				buf := make([]byte, len(raw[1])+len(raw[2]))
				n := copy(buf, raw[1])
				copy(buf[n:], raw[2])
				kv = KV{Key: buf[:n:n], Value: buf[n:]}
			} else if scanErr = rows.Scan(&i, &kv.Key, &kv.Value); scanErr != nil {
				return scanErr
			}
			if kv.Value == nil {
				kv.Value = []byte{}
			}
			if i < 1 || int(i) > len(out) {
				scanErr = fmt.Errorf("store: snapshot: row of query %d of %d", i, len(out))
				return scanErr
			}
			out[i-1] = append(out[i-1], kv)
		}
		return rows.Err()
	})
	if err := db.pg.pool.SendBatch(ctx, &batch).Close(); err != nil {
		if scanErr == nil && isUnavailable(err) {
			return nil, fmt.Errorf("%w: snapshot: %w", ErrUnavailable, err)
		}
		return nil, err
	}
	return out, nil
}

// rawSnapshotRows tells whether sqlSnapshot's rows come as pgx asks for
// them with a described statement: the ordinal as a binary int8 and the
// key and value as binary bytea (their bytes as they are), which
// Snapshot then copies from the row's raw values itself.
func rawSnapshotRows(fds []pgconn.FieldDescription) bool {
	return len(fds) == 3 && fds[0].Format == pgx.BinaryFormatCode && fds[0].DataTypeOID == pgtype.Int8OID &&
		fds[1].Format == pgx.BinaryFormatCode && fds[1].DataTypeOID == pgtype.ByteaOID &&
		fds[2].Format == pgx.BinaryFormatCode && fds[2].DataTypeOID == pgtype.ByteaOID
}

// be64 reads a binary int8.
func be64(b []byte) uint64 {
	if len(b) != 8 {
		return 0 // not a row of any query: refused by the caller
	}
	return binary.BigEndian.Uint64(b)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// sqlSnapshot reads every Query of a Snapshot in one statement: one
// index range scan per query, each bounded by its limit (the LIMIT inside
// LATERAL also keeps a generic plan from turning it into a join over the
// whole table).
const sqlSnapshot = `SELECT r.i, v.key, v.value
	FROM unnest($1::text[], $2::bytea[], $3::bytea[], $4::int[]) WITH ORDINALITY AS r(bucket, lo, hi, lim, i)
	CROSS JOIN LATERAL (SELECT key, value FROM kv WHERE kv.bucket = r.bucket AND kv.key >= r.lo AND kv.key <= r.hi
		ORDER BY kv.key LIMIT r.lim) AS v
	ORDER BY r.i, v.key`

// ReadsAreDurable tells whether whatever a read sees has been made
// durable: then a request that reads that it has nothing to change
// (an idempotent write already done) may be answered from the read,
// without a write transaction, and the answer still holds after a crash.
// PostgreSQL makes a commit visible to other sessions only once its WAL
// is flushed (synchronous_commit on, the default; with it off, the
// writer's own commit is not durable either). bbolt with its
// write-ahead log (the default) does too: a batch's layer is published
// to readers only after its record's fdatasync, and bbolt itself holds
// only checkpoints of published layers, whose records stay in the log
// until the checkpoint is fsynced (so a bbolt commit a reader sees before
// its meta page is synced is durable in the log). Plain bbolt
// (Options.NoLog) is not: a reader may see a commit whose meta page is
// written but not yet fsynced, so there a write that changes nothing
// still waits for a commit.
func (db *DB) ReadsAreDurable() bool {
	_, logged := db.be.(*walBackend)
	return db.pg != nil || logged
}
