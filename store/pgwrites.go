package store

import (
	"bytes"
	"cmp"
	"slices"

	"github.com/jackc/pgx/v5"
)

// Writes are queued one statement per Put or Delete (so that a function's
// writes can be dropped alone, see fnScope) and merged when the batch is
// sent: each run of consecutive writes, with nothing between them that
// reads or locks, becomes at most one multi-row DELETE and one multi-row
// INSERT ... ON CONFLICT, whatever its length. Within a run only the last
// write of a key counts (no statement between them could see the
// others), so a key written twice by one batch (a journal entry made and
// then updated, a person's record updated twice) costs one row version,
// not two. Rows are sent sorted by (bucket, key), so two transactions
// writing the same keys take their row locks in one order.
//
// On PostgreSQL each statement costs its own parse-free but not free
// bind, executor start and end, and its own protocol messages both ways;
// an accept of about ten writes and a pipeline commit of about twenty
// cost two or three statements instead.

const (
	sqlPutMany = `INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])
	ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value`
	sqlDeleteMany = `DELETE FROM kv USING unnest($1::text[], $2::bytea[]) AS d(bucket, key)
	WHERE kv.bucket = d.bucket AND kv.key = d.key`
)

func isWrite(q *pgx.QueuedQuery) bool { return q.SQL == sqlPut || q.SQL == sqlDelete }

// coalesceWrites returns qs with each run of two or more writes merged
// (see above); the other statements stay as and where they are.
func coalesceWrites(qs []*pgx.QueuedQuery) []*pgx.QueuedQuery {
	var out []*pgx.QueuedQuery
	for i := 0; i < len(qs); {
		j := i
		for j < len(qs) && isWrite(qs[j]) {
			j++
		}
		switch {
		case j == i:
			out = append(out, qs[i])
			i++
			continue
		case j-i == 1:
			out = append(out, qs[i])
		default:
			out = append(out, mergeWrites(qs[i:j])...)
		}
		i = j
	}
	return out
}

type kvWrite struct {
	bucket   string
	key, val []byte
	del      bool
}

// mergeWrites turns a run of Put and Delete statements into the last
// write of each key, deletes first (the two sets are disjoint, so their
// order does not matter), each set in one statement.
func mergeWrites(run []*pgx.QueuedQuery) []*pgx.QueuedQuery {
	ws := make([]kvWrite, 0, len(run))
	for _, q := range run {
		w := kvWrite{bucket: q.Arguments[0].(string), key: q.Arguments[1].([]byte), del: q.SQL == sqlDelete}
		if !w.del {
			w.val = q.Arguments[2].([]byte)
		}
		ws = append(ws, w)
	}
	// Sorted by key, the writes of one key in the order made (a stable
	// sort): the last of each run of one key is the one that stands.
	slices.SortStableFunc(ws, func(a, b kvWrite) int {
		return cmp.Or(cmp.Compare(a.bucket, b.bucket), bytes.Compare(a.key, b.key))
	})
	last := ws[:0]
	for i, w := range ws {
		if i+1 < len(ws) && ws[i+1].bucket == w.bucket && bytes.Equal(ws[i+1].key, w.key) {
			continue
		}
		last = append(last, w)
	}
	ws = last
	var db, pb []string
	var dk, pk, pv [][]byte
	for _, w := range ws {
		if w.del {
			db, dk = append(db, w.bucket), append(dk, w.key)
		} else {
			pb, pk, pv = append(pb, w.bucket), append(pk, w.key), append(pv, w.val)
		}
	}
	var out []*pgx.QueuedQuery
	switch len(db) {
	case 0:
	case 1:
		out = append(out, &pgx.QueuedQuery{SQL: sqlDelete, Arguments: []any{db[0], dk[0]}})
	default:
		out = append(out, &pgx.QueuedQuery{SQL: sqlDeleteMany, Arguments: []any{textArray(db), byteaArray(dk)}})
	}
	switch len(pb) {
	case 0:
	case 1:
		out = append(out, &pgx.QueuedQuery{SQL: sqlPut, Arguments: []any{pb[0], pk[0], pv[0]}})
	default:
		out = append(out, &pgx.QueuedQuery{SQL: sqlPutMany, Arguments: []any{textArray(pb), byteaArray(pk), byteaArray(pv)}})
	}
	return out
}
