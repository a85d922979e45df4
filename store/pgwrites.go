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
// INSERT ... ON CONFLICT, whatever its length; keys known to have no row
// (pgTx.gone) go in a plain INSERT of the same statement, and are not
// deleted at all. Within a run only the last
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
	// sqlInsert and sqlInsertMany write keys the database has no row of
	// (pgTx.gone): a plain INSERT, where the upsert would first look for
	// the key in the index, insert the row as speculative and then
	// write a second WAL record to confirm it (heap_confirm), per row.
	sqlInsert     = `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)`
	sqlInsertMany = `INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])`
	// sqlInsertPutMany is both in one statement: new keys ($4-$6) and
	// keys that may exist ($1-$3), two disjoint sets.
	sqlInsertPutMany = `WITH n AS (INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($4::text[], $5::bytea[], $6::bytea[]))
	` + sqlPutMany
)

func isWrite(q *pgx.QueuedQuery) bool { return q.SQL == sqlPut || q.SQL == sqlDelete }

// coalesceWrites returns qs with each run of writes merged (see above);
// the other statements stay as and where they are. gone holds the keys
// the database has no row of before qs run (pgTx.gone): a put of one is
// a plain INSERT. coalesceWrites keeps it up to date with the writes.
func coalesceWrites(qs []*pgx.QueuedQuery, gone map[string]bool) []*pgx.QueuedQuery {
	var out []*pgx.QueuedQuery
	for i := 0; i < len(qs); {
		j := i
		for j < len(qs) && isWrite(qs[j]) {
			j++
		}
		if j == i {
			out = append(out, qs[i])
			i++
			continue
		}
		out = append(out, mergeWrites(qs[i:j], gone)...)
		i = j
	}
	return out
}

type kvWrite struct {
	bucket     string
	key, val   []byte
	del, fresh bool
}

// mergeWrites turns a run of Put and Delete statements into the last
// write of each key, deletes first (the two sets are disjoint, so their
// order does not matter), each set in one statement. A put of a key in
// gone (absent when the run begins; a delete before it in the run was of
// nothing) is a plain INSERT; a delete of one is not sent at all. It
// then updates gone: the keys put exist, those deleted do not.
func mergeWrites(run []*pgx.QueuedQuery, gone map[string]bool) []*pgx.QueuedQuery {
	idx := make(map[string]int, len(run))
	ws := make([]kvWrite, 0, len(run))
	cks := make([]string, 0, len(run))
	for _, q := range run {
		w := kvWrite{bucket: q.Arguments[0].(string), key: q.Arguments[1].([]byte), del: q.SQL == sqlDelete}
		if !w.del {
			w.val = q.Arguments[2].([]byte)
		}
		ck := cacheKey(w.bucket, w.key)
		if i, ok := idx[ck]; ok {
			ws[i] = w
			continue
		}
		idx[ck] = len(ws)
		ws = append(ws, w)
		cks = append(cks, ck)
	}
	for i := range ws {
		ws[i].fresh = gone[cks[i]]
		if ws[i].del {
			gone[cks[i]] = true
		} else {
			delete(gone, cks[i])
		}
	}
	if len(ws) > 1 {
		slices.SortFunc(ws, func(a, b kvWrite) int {
			return cmp.Or(cmp.Compare(a.bucket, b.bucket), bytes.Compare(a.key, b.key))
		})
	}
	var db, pb, nb []string
	var dk, pk, pv, nk, nv [][]byte
	for _, w := range ws {
		switch {
		case w.del && w.fresh:
			// A delete of a key that has no row: nothing to send.
		case w.del:
			db, dk = append(db, w.bucket), append(dk, w.key)
		case w.fresh:
			nb, nk, nv = append(nb, w.bucket), append(nk, w.key), append(nv, w.val)
		default:
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
	switch {
	case len(pb) == 0 && len(nb) == 0:
	case len(pb) == 0 && len(nb) == 1:
		out = append(out, &pgx.QueuedQuery{SQL: sqlInsert, Arguments: []any{nb[0], nk[0], nv[0]}})
	case len(pb) == 0:
		out = append(out, &pgx.QueuedQuery{SQL: sqlInsertMany, Arguments: []any{textArray(nb), byteaArray(nk), byteaArray(nv)}})
	case len(nb) == 0 && len(pb) == 1:
		out = append(out, &pgx.QueuedQuery{SQL: sqlPut, Arguments: []any{pb[0], pk[0], pv[0]}})
	case len(nb) == 0:
		out = append(out, &pgx.QueuedQuery{SQL: sqlPutMany, Arguments: []any{textArray(pb), byteaArray(pk), byteaArray(pv)}})
	default:
		out = append(out, &pgx.QueuedQuery{SQL: sqlInsertPutMany, Arguments: []any{textArray(pb), byteaArray(pk), byteaArray(pv), textArray(nb), byteaArray(nk), byteaArray(nv)}})
	}
	return out
}
