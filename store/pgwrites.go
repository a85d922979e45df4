package store

import (
	"bytes"
	"cmp"
	"slices"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// Writes are queued one statement per Put or Delete (so that a function's
// writes can be dropped alone, see fnScope) and merged when the batch is
// sent: each run of consecutive writes, with nothing between them that
// reads or locks, becomes one statement whatever its length. Within a run
// only the last write of a key counts (no statement between them could
// see the others), so a key written twice by one batch (a journal entry
// made and then updated, a person's record updated twice) costs one row
// version, not two. Rows are sent sorted by (bucket, key), so two
// transactions writing the same keys take their row locks in one order.
//
// A put takes the cheapest form the transaction's knowledge of the key
// allows (pgTx.rows): a key known to have no row is a plain INSERT, one
// known to have a row a plain UPDATE, any other an upsert (INSERT ... ON
// CONFLICT DO UPDATE), which first looks for the key in the index, then
// either inserts the row as speculative and writes a second WAL record to
// confirm it (heap_confirm), or locks the row it found (a Heap/LOCK
// record) before updating it. A delete of a key known to have no row is
// not sent at all.
//
// On PostgreSQL each statement costs its own parse-free but not free
// bind, executor start and end, and its own protocol messages both ways;
// an accept of about ten writes and a pipeline commit of about twenty
// cost one statement each.

const (
	sqlPutMany = `INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])
	ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value`
	sqlDeleteMany = `DELETE FROM kv USING unnest($1::text[], $2::bytea[]) AS d(bucket, key)
	WHERE kv.bucket = d.bucket AND kv.key = d.key`
	// sqlInsert and sqlInsertMany write keys the database has no row of
	// (pgTx.rows).
	sqlInsert     = `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)`
	sqlInsertMany = `INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[])`
	// sqlWrite is a run of writes of more than one kind, or with keys
	// known to have a row, in one statement: deletes ($1-$2), inserts of
	// keys with no row ($3-$5), upserts of keys that may have one
	// ($6-$8) and updates of keys that have one ($9-$11), four disjoint
	// sets (empty arrays for a kind the run has not). The updates must
	// meet $12 rows: fewer (a row known present gone, which a writer
	// that broke its lock promise could do) fails the statement, and so
	// the transaction, before its COMMIT (errRowsGone), and the batch
	// runs again, reading afresh; an update of nothing would otherwise
	// lose the write.
	sqlWrite = `WITH d AS (DELETE FROM kv USING unnest($1::text[], $2::bytea[]) AS d(bucket, key)
		WHERE kv.bucket = d.bucket AND kv.key = d.key),
	n AS (INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($3::text[], $4::bytea[], $5::bytea[])),
	p AS (INSERT INTO kv (bucket, key, value) SELECT * FROM unnest($6::text[], $7::bytea[], $8::bytea[])
		ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value),
	u AS (UPDATE kv SET value = w.value FROM unnest($9::text[], $10::bytea[], $11::bytea[]) AS w(bucket, key, value)
		WHERE kv.bucket = w.bucket AND kv.key = w.key RETURNING 1)
	SELECT CASE WHEN count(*) = $12 THEN 0 ELSE ('` + errRowsGone + `: ' || $12 - count(*))::int END FROM u`
	// errRowsGone is in the error sqlWrite fails with when rows it
	// updates are gone (PostgreSQL's "invalid input syntax for type
	// integer", 22P02, quoting it): pgBackend.retryable knows it.
	errRowsGone = `deskmail: rows known present are gone`
)

func isWrite(q *pgx.QueuedQuery) bool { return q.SQL == sqlPut || q.SQL == sqlDelete }

// coalesceWrites returns qs with each run of writes merged (see above);
// the other statements stay as and where they are. rows holds what the
// transaction knows of keys' rows before qs run (pgTx.rows);
// coalesceWrites keeps it up to date with the writes. sent, if not nil,
// counts the rows sent by kind.
func coalesceWrites(qs []*pgx.QueuedQuery, rows map[string]bool, sent *rowCounter) []*pgx.QueuedQuery {
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
		out = append(out, mergeWrites(qs[i:j], rows, sent)...)
		i = j
	}
	return out
}

type kvWrite struct {
	bucket   string
	key, val []byte
	del      bool
	// known: rows says whether the key has a row when the run begins
	// (has); a delete before it in the run was never sent.
	known, has bool
}

// mergeWrites turns a run of Put and Delete statements into the last
// write of each key, in one statement (see above). It then updates rows:
// the keys put have a row, those deleted have none.
func mergeWrites(run []*pgx.QueuedQuery, rows map[string]bool, sent *rowCounter) []*pgx.QueuedQuery {
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
		ws[i].has, ws[i].known = rows[cks[i]]
		rows[cks[i]] = !ws[i].del
	}
	if len(ws) > 1 {
		slices.SortFunc(ws, func(a, b kvWrite) int {
			return cmp.Or(cmp.Compare(a.bucket, b.bucket), bytes.Compare(a.key, b.key))
		})
	}
	var db, nb, pb, ub []string
	var dk, nk, nv, pk, pv, uk, uv [][]byte
	for _, w := range ws {
		switch {
		case w.del && w.known && !w.has:
			// A delete of a key that has no row: nothing to send.
		case w.del:
			db, dk = append(db, w.bucket), append(dk, w.key)
		case w.known && !w.has:
			nb, nk, nv = append(nb, w.bucket), append(nk, w.key), append(nv, w.val)
		case w.known:
			ub, uk, uv = append(ub, w.bucket), append(uk, w.key), append(uv, w.val)
		default:
			pb, pk, pv = append(pb, w.bucket), append(pk, w.key), append(pv, w.val)
		}
	}
	if sent != nil {
		sent.deletes.Add(int64(len(db)))
		sent.inserts.Add(int64(len(nb)))
		sent.upserts.Add(int64(len(pb)))
		sent.updates.Add(int64(len(ub)))
	}
	one := func(sql string, args ...any) []*pgx.QueuedQuery {
		return []*pgx.QueuedQuery{{SQL: sql, Arguments: args}}
	}
	kinds := 0
	for _, n := range []int{len(db), len(nb), len(pb), len(ub)} {
		if n > 0 {
			kinds++
		}
	}
	switch {
	case kinds == 0:
		return nil
	case len(ub) > 0 || kinds > 1:
		return one(sqlWrite, textArray(db), byteaArray(dk), textArray(nb), byteaArray(nk), byteaArray(nv),
			textArray(pb), byteaArray(pk), byteaArray(pv), textArray(ub), byteaArray(uk), byteaArray(uv), len(ub))
	case len(db) == 1:
		return one(sqlDelete, db[0], dk[0])
	case len(db) > 0:
		return one(sqlDeleteMany, textArray(db), byteaArray(dk))
	case len(nb) == 1:
		return one(sqlInsert, nb[0], nk[0], nv[0])
	case len(nb) > 0:
		return one(sqlInsertMany, textArray(nb), byteaArray(nk), byteaArray(nv))
	case len(pb) == 1:
		return one(sqlPut, pb[0], pk[0], pv[0])
	default:
		return one(sqlPutMany, textArray(pb), byteaArray(pk), byteaArray(pv))
	}
}

// rowCounter counts the rows a node's write transactions sent, by kind
// (DB.RowsSent).
type rowCounter struct {
	deletes, inserts, upserts, updates atomic.Int64
	reads                              atomic.Int64 // keys read by name (RowsSent.Reads)
}

// RowsSent are the rows a node's write transactions sent to PostgreSQL,
// by the form each took (see coalesceWrites): deletes, plain inserts of
// keys known absent, upserts (INSERT ... ON CONFLICT DO UPDATE: an index
// probe, then an insert, or a row lock and an update) and plain updates
// of keys known present. A delete of a key known to have no row is not
// sent, and not counted. Rows of a transaction that failed and ran again
// count each time they were sent. Reads are the keys the write
// transactions read by name: those declared (store.Reads, one index
// lookup each in the transaction's first statement), those of
// Tx.Prefetch and PrefetchRanges, and those read one by one (Tx.Get of
// a key not known, a round trip each); not a lock's fresh reads.
type RowsSent struct {
	Deletes, Inserts, Upserts, Updates int64
	Reads                              int64
}

// RowsSent is how many rows this node's write transactions have sent to
// PostgreSQL since it opened the store (zero with bbolt): with
// RoundTrips, a count of the work a write path gives the database that
// a loaded machine's wall clock does not blur.
func (db *DB) RowsSent() RowsSent {
	if db.pg == nil {
		return RowsSent{}
	}
	c := &db.pg.rows
	return RowsSent{Deletes: c.deletes.Load(), Inserts: c.inserts.Load(), Upserts: c.upserts.Load(), Updates: c.updates.Load(), Reads: c.reads.Load()}
}
