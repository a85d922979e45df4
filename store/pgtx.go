package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// pgTx is one transaction on the shared database. Writes are queued and
// sent in one round trip (a pgx batch) before the next range read (scan,
// count, last key) or the commit, so a function that writes ten keys costs
// one round trip, not ten; a key the transaction wrote or read before is
// answered from memory, so reads see the transaction's own writes.
type pgTx struct {
	ctx context.Context
	q   querier // the transaction's connection
	// ro: a read transaction (View). Its BEGIN is not sent on its own:
	// it waits in pending and goes with the first read (one round trip
	// fewer), and a View that reads nothing sends neither BEGIN nor
	// ROLLBACK.
	ro bool
	be *pgBackend
	rw bool
	// keyed: the batch holds the writer lock shared and its declared
	// locks (store.Locks), not the writer lock alone.
	keyed   bool
	err     error
	pending pgx.Batch
	conn    *pgxpool.Conn // a write transaction's connection (its transaction holds the writer lock)
	ended   bool
	// seen remembers what this transaction read or wrote, by bucket and
	// key (nil value: absent), so a key read again costs no round trip.
	// The locks make it exact: no other writer can change a key while
	// this transaction holds the writer lock alone, or, in a keyed batch,
	// the lock that covers the key (which Locks promises, and Tx.Lock
	// reads afresh what it names). (A read transaction's snapshot does the
	// same for it.)
	seen map[string][]byte
	// last is each bucket's largest key as this transaction knows it
	// (asked once, then kept up to date by its own writes), so a journal
	// append costs no round trip after the first.
	last map[string][]byte
	// seqs holds sequence values drawn ahead for this transaction (named
	// with Draws), by bucket: one round trip serves the whole batch.
	seqs map[string][]int64
	// fn is the scope of the batch function running now, so that its
	// writes can be undone alone when it fails.
	fn fnScope
	// held are the locks this transaction took with Tx.Lock/TryLock, so
	// that asking again costs no round trip.
	held map[int64]bool
	// excl are the locks the batch declared exclusively (store.Locks),
	// taken when it began.
	excl map[int64]bool
	// known are ranges of keys whose every row the transaction read
	// (ReadsRange, PrefetchRanges): seen holds them, with the
	// transaction's own writes, so a scan inside one is answered from
	// memory.
	known []knownRange
	// notes are the payloads to send once the transaction has committed
	// (publish).
	notes []string
	// rows holds keys (cacheKey) whose row the transaction knows, as the
	// statements sent so far leave it: false, the database has no row of
	// the key (read absent, declared fresh with Tx.Absent, or deleted by
	// this transaction); true, it has one (read, or written by this
	// transaction). A put of a key with no row is sent as a plain INSERT,
	// of a key with one as a plain UPDATE, not an upsert (see
	// pgwrites.go). Every doubt removes a key (a function undone after
	// its writes were sent forgets them all), never adds one.
	rows map[string]bool
}

// knownRange: every key of bucket from lo (included) to hi (excluded;
// nil: the bucket's end) that exists, as the transaction knows it, is in
// seen with its value.
type knownRange struct {
	bucket string
	lo, hi []byte
}

// holds tells whether the transaction holds name exclusively (Tx.Need):
// declared, or taken with Tx.Lock/TryLock. A read-only transaction and a
// batch holding the writer lock alone need no name.
func (t *pgTx) holds(name string) bool {
	if !t.rw || !t.keyed {
		return true
	}
	id := lockID(name)
	return t.excl[id] || t.held[id]
}

// fnScope follows one function of a batch: where its queued writes begin,
// whether some were already sent (then a savepoint marks its start), and
// how to put the transaction's memory of keys back.
type fnScope struct {
	active    bool
	mark      int  // index in pending of the function's first write
	known     int  // len(known) when it began
	savepoint bool // a SAVEPOINT was sent before its first write
	undo      []undoRec
}

// undoRec is what seen (or last, when isLast) held for a key before the
// running function changed it.
type undoRec struct {
	isLast bool
	key    string
	val    []byte
	had    bool
}

const (
	sqlSavepoint  = `SAVEPOINT deskmail_fn`
	sqlRelease    = `RELEASE SAVEPOINT deskmail_fn`
	sqlRollbackTo = `ROLLBACK TO SAVEPOINT deskmail_fn`
)

func (t *pgTx) beginFn() {
	t.fn = fnScope{active: true, mark: t.pending.Len(), known: len(t.known), undo: t.fn.undo[:0]}
}

// endFn closes the running function's scope. On failure its queued
// writes are dropped, or, when some were sent already, the transaction
// goes back to the savepoint taken before them; what the transaction
// remembers of keys is put back as it was.
func (t *pgTx) endFn(ok bool) bool {
	sc := t.fn
	t.fn.active = false
	if t.err != nil {
		return false
	}
	if ok {
		if sc.savepoint {
			t.pending.Queue(sqlRelease)
		}
		return true
	}
	t.pending.QueuedQueries = t.pending.QueuedQueries[:sc.mark]
	// Locks taken after the savepoint go with it: ask the database again.
	t.held = nil
	// The rows of ranges it read leave seen below: so do the ranges.
	t.known = t.known[:sc.known]
	if sc.savepoint {
		// The rollback brings back rows the function deleted and takes
		// away those it inserted: what the transaction knew of rows may
		// be wrong now.
		t.rows = nil
		// Sent at once: reads go to the database without flushing, so
		// it must not keep the undone writes a moment longer.
		t.pending.Queue(sqlRollbackTo)
		t.pending.Queue(sqlRelease)
		if t.flush() != nil {
			return false
		}
	}
	for i := len(sc.undo) - 1; i >= 0; i-- {
		u := sc.undo[i]
		m := t.seen
		if u.isLast {
			m = t.last
		}
		if u.had {
			m[u.key] = u.val
		} else {
			delete(m, u.key)
		}
	}
	return true
}

// note records, for the running function, what a map held before it
// changes.
func (t *pgTx) note(isLast bool, m map[string][]byte, key string) {
	if !t.fn.active {
		return
	}
	v, had := m[key]
	t.fn.undo = append(t.fn.undo, undoRec{isLast: isLast, key: key, val: v, had: had})
}

// querier is what a transaction sends its statements through.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

func cacheKey(bucket string, key []byte) string { return bucket + "\x00" + string(key) }

// rememberKey remembers value (nil: no row) of the key whose cacheKey is
// ck: callers make a key's cacheKey once (an allocation each) for all
// they do with it.
func (t *pgTx) rememberKey(ck string, value []byte) {
	if t.seen == nil {
		t.seen = map[string][]byte{}
	}
	t.note(false, t.seen, ck)
	t.seen[ck] = value
}

// rememberRead remembers what a statement sent already read of key, or
// that it is declared fresh (nil: no row), and so whether the database
// has a row of it (knowRowKey).
func (t *pgTx) rememberRead(bucket string, key, value []byte) {
	t.rememberReadKey(cacheKey(bucket, key), value)
}

func (t *pgTx) rememberReadKey(ck string, value []byte) {
	t.rememberKey(ck, value)
	t.knowRowKey(ck, value != nil)
}

// maxPending flushes long write queues early to bound memory.
const maxPending = 512

const (
	sqlGet       = `SELECT value FROM kv WHERE bucket = $1 AND key = $2`
	sqlPut       = `INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3) ON CONFLICT (bucket, key) DO UPDATE SET value = EXCLUDED.value`
	sqlDelete    = `DELETE FROM kv WHERE bucket = $1 AND key = $2`
	sqlLastKey   = `SELECT key FROM kv WHERE bucket = $1 ORDER BY key DESC LIMIT 1`
	sqlCount     = `SELECT count(*) FROM kv WHERE bucket = $1`
	sqlScan      = `SELECT key, value FROM kv WHERE bucket = $1 AND key >= $2 ORDER BY key LIMIT $3`
	sqlScanAfter = `SELECT key, value FROM kv WHERE bucket = $1 AND key > $2 ORDER BY key LIMIT $3`
	// sqlScanTo and sqlScanAfterTo are the pages of a scan with an end
	// (Tx.ScanRange, ScanPrefix).
	sqlScanTo      = `SELECT key, value FROM kv WHERE bucket = $1 AND key >= $2 AND key < $3 ORDER BY key LIMIT $4`
	sqlScanAfterTo = `SELECT key, value FROM kv WHERE bucket = $1 AND key > $2 AND key < $3 ORDER BY key LIMIT $4`
	sqlScanBack    = `SELECT key, value FROM kv WHERE bucket = $1 AND key < $2 ORDER BY key DESC LIMIT $3`
	sqlScanLast    = `SELECT key, value FROM kv WHERE bucket = $1 ORDER BY key DESC LIMIT $2`
	sqlNotify      = `SELECT pg_notify('deskmail', $1)`
	// sqlNotifyMany sends a committed transaction's notes in one
	// statement of their own, in order.
	sqlNotifyMany = `SELECT pg_notify('deskmail', p) FROM unnest($1::text[]) WITH ORDINALITY AS u(p, i) ORDER BY i`
	sqlDraw       = `SELECT nextval($1::text::regclass) FROM generate_series(1, $2)`
)

func (t *pgTx) writable() bool { return t.rw }

func (t *pgTx) failed() error { return t.err }

// fail keeps the first error: PostgreSQL refuses every later statement of
// a failed transaction anyway.
func (t *pgTx) fail(err error) error {
	if t.err == nil {
		if isUnavailable(err) {
			t.err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		} else {
			t.err = err
		}
	}
	return t.err
}

// isUnavailable tells a database that is away (no connection, a restart
// or shutdown in progress, out of connections or disk) from an error of
// the statement itself.
func isUnavailable(err error) bool {
	var pe interface{ SQLState() string }
	if !errors.As(err, &pe) {
		return true // no answer from the server at all
	}
	switch pe.SQLState()[:2] {
	case "08", "53", "57", "58":
		return true
	}
	return false
}

func (t *pgTx) flush() error {
	if t.err != nil {
		return t.err
	}
	if t.pending.Len() == 0 || t.ro {
		return nil // a read transaction's pending BEGIN goes with its first read
	}
	if t.fn.active && !t.fn.savepoint {
		// Writes of the running function are about to be sent: mark
		// where they begin, so that they can still be undone alone.
		q := &pgx.QueuedQuery{SQL: sqlSavepoint}
		qs := t.pending.QueuedQueries
		qs = append(qs[:t.fn.mark], append([]*pgx.QueuedQuery{q}, qs[t.fn.mark:]...)...)
		t.pending.QueuedQueries = qs
		t.fn.savepoint = true
	}
	if t.fn.active {
		t.fn.mark = 0 // what is queued after this flush is the function's
	}
	if t.rows == nil {
		t.rows = map[string]bool{}
	}
	b := pgx.Batch{QueuedQueries: coalesceWrites(t.pending.QueuedQueries, t.rows, &t.be.rows)}
	t.pending = pgx.Batch{}
	// Close runs every statement in order, calling the callbacks of
	// those that read (Tx.Lock), and reports the first error.
	if err := t.q.SendBatch(t.ctx, &b).Close(); err != nil {
		return t.fail(err)
	}
	return nil
}

// lock takes a named lock (Tx.Lock, Tx.TryLock) in one round trip with
// the writes queued before it and, once it is held, fresh reads of the
// keys named: under READ COMMITTED they see whatever committed before the
// lock was granted.
func (t *pgTx) lock(name string, wait bool, fresh []Key) (bool, error) {
	got, err := t.lockAll([]string{name}, [][]Key{fresh}, wait, FreshLimit{})
	if err != nil {
		return false, err
	}
	return got[0], nil
}

// lockAll takes several locks in one round trip (Tx.TryLockAll), each
// with the keys to read afresh once it is held. A lock this transaction
// holds already is not asked for again.
// With lim.Bucket set, the fresh reads come from sqlGetHeld: only of
// the locks held once the locks are asked, and of lim.Bucket only within
// lim.Bytes.
func (t *pgTx) lockAll(names []string, fresh [][]Key, wait bool, lim FreshLimit) ([]bool, error) {
	got := make([]bool, len(names))
	if t.err != nil {
		return got, t.err
	}
	if !t.rw {
		return got, errors.New("store: lock in a read-only transaction")
	}
	if !t.keyed {
		for i := range got {
			got[i] = true // the writer lock, held alone, covers everything
		}
		return got, nil
	}
	found := map[string][]byte{}
	var buckets []string
	var keys [][]byte
	var hs []int64  // each key's lock (sqlGetHeld)
	var lims []bool // each key's value counts towards lim.Bytes
	var try []int64 // asked without waiting, in one statement
	var tryAt []int
	ask := false
	for i, name := range names {
		id := lockID(name)
		if t.held[id] {
			got[i] = true
			continue
		}
		ask = true
		if wait {
			got[i] = true
			t.pending.Queue(sqlLock, id)
		} else {
			try, tryAt = append(try, id), append(tryAt, i)
		}
		if i < len(fresh) {
			for _, k := range fresh[i] {
				buckets, keys = append(buckets, k.Bucket), append(keys, k.Key)
				hs, lims = append(hs, id), append(lims, k.Bucket == lim.Bucket)
			}
		}
	}
	if !ask {
		return got, nil
	}
	switch len(try) {
	case 0:
	case 1:
		t.pending.Queue(sqlTryLock, try[0]).QueryRow(func(r pgx.Row) error { return r.Scan(&got[tryAt[0]]) })
	default:
		// One statement for a claim's candidates, not one each.
		t.pending.Queue(sqlTryLockMany, try).Query(func(rows pgx.Rows) error {
			n := 0
			for rows.Next() {
				if n >= len(tryAt) {
					return errors.New("store: more try-lock answers than asked")
				}
				if err := rows.Scan(&got[tryAt[n]]); err != nil {
					return err
				}
				n++
			}
			if err := rows.Err(); err != nil {
				return err
			}
			if n != len(tryAt) {
				return errors.New("store: fewer try-lock answers than asked")
			}
			return nil
		})
	}
	if len(keys) > 0 && lim.Bucket != "" {
		t.pending.Queue(sqlGetHeld, textArray(buckets), byteaArray(keys), hs, lims, int64(lim.Bytes)).Query(func(rows pgx.Rows) error {
			return collectMany(rows, func(bucket string, k, v []byte) { found[cacheKey(bucket, k)] = v })
		})
	} else if len(keys) > 0 {
		queueGetMany(&t.pending, buckets, keys, func(bucket string, k, v []byte) { found[cacheKey(bucket, k)] = v })
	}
	if err := t.flush(); err != nil {
		return got, err
	}
	if t.held == nil {
		t.held = map[int64]bool{}
	}
	for i, name := range names {
		id := lockID(name)
		if !got[i] || t.held[id] {
			continue
		}
		t.held[id] = true
		if i < len(fresh) {
			for _, k := range fresh[i] {
				v, ok := found[cacheKey(k.Bucket, k.Key)]
				if !ok && k.Bucket == lim.Bucket {
					// Past lim.Bytes, not read: nor is it known absent.
					t.forget(k.Bucket, k.Key)
					continue
				}
				t.rememberRead(k.Bucket, k.Key, v)
			}
		}
	}
	return got, nil
}

// fetched tells whether the transaction knows key's value (Tx.Fetched).
func (t *pgTx) fetched(bucket string, key []byte) bool {
	_, ok := t.seen[cacheKey(bucket, key)]
	return ok
}

// forget drops what the transaction had read of key before a lock
// (lockAll): it may be stale, and the fresh read did not bring it.
func (t *pgTx) forget(bucket string, key []byte) {
	ck := cacheKey(bucket, key)
	if _, ok := t.seen[ck]; ok {
		t.note(false, t.seen, ck)
		delete(t.seen, ck)
	}
}

func (t *pgTx) queue(sql string, args ...any) error {
	if t.err != nil {
		return t.err
	}
	if !t.rw {
		return errors.New("store: write in a read-only transaction")
	}
	t.pending.Queue(sql, args...)
	if t.pending.Len() >= maxPending {
		return t.flush()
	}
	return nil
}

func (t *pgTx) get(bucket string, key []byte) []byte {
	if t.err != nil {
		return nil
	}
	ck := cacheKey(bucket, key)
	if v, ok := t.seen[ck]; ok {
		return v
	}
	// No flush: every key this transaction wrote is in seen, so the
	// queued writes cannot change what the database says about this one.
	if t.rw {
		t.be.rows.reads.Add(1)
	}
	var v []byte
	err := t.readRow(sqlGet, []any{bucket, key}, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		t.rememberReadKey(ck, nil)
		return nil
	}
	if err != nil {
		t.fail(err)
		return nil
	}
	if v == nil {
		v = []byte{}
	}
	t.rememberReadKey(ck, v)
	return v
}

func (t *pgTx) put(bucket string, key, value []byte) error {
	if len(key) == 0 {
		return fmt.Errorf("put %s: key required", bucket)
	}
	// The caller may reuse its slices once Put returns; the batch is sent
	// later.
	k := append([]byte(nil), key...)
	v := append([]byte{}, value...)
	ck := cacheKey(bucket, key)
	t.goneInRange(bucket, key, ck)
	if err := t.queue(sqlPut, bucket, k, v); err != nil {
		return err
	}
	t.rememberKey(ck, v)
	if last, ok := t.last[bucket]; ok && bytes.Compare(k, last) > 0 {
		t.note(true, t.last, bucket)
		t.last[bucket] = k
	}
	return nil
}

func (t *pgTx) del(bucket string, key []byte) error {
	ck := cacheKey(bucket, key)
	t.goneInRange(bucket, key, ck)
	if err := t.queue(sqlDelete, bucket, append([]byte(nil), key...)); err != nil {
		return err
	}
	t.rememberKey(ck, nil)
	if last, ok := t.last[bucket]; ok && bytes.Equal(key, last) {
		t.note(true, t.last, bucket)
		delete(t.last, bucket) // the new last key is the database's to say
	}
	return nil
}

// maxSeqDraw bounds how many values of one sequence a transaction draws
// ahead.
const maxSeqDraw = 256

// sequence hands out the bucket's next value: one drawn ahead for the
// batch (Draws, with the transaction's first round trip), or else one
// drawn now. A value drawn ahead and not taken (a duplicate accept) is a
// gap, which Sequence allows. A value drawn by a batch that holds the
// writer lock alone is in commit order across nodes; in keyed batches
// (store.Locks) values grow in commit order only among transactions that
// share a lock, which is what their order is about (one conversation's
// emails), and the store says nothing about the others.
func (t *pgTx) sequence(bucket string) (uint64, error) {
	if t.err != nil {
		return 0, t.err
	}
	if vals := t.seqs[bucket]; len(vals) > 0 {
		t.seqs[bucket] = vals[1:]
		return uint64(vals[0]), nil
	}
	name, err := t.be.ensureSequence(t.ctx, bucket)
	if err != nil {
		return 0, t.fail(err)
	}
	// One value: drawing ahead for a caller that did not say it will
	// take more (Draws) would leave gaps in numbers people see, such as
	// conversation tags.
	var vals []int64
	err = t.readRows(sqlDraw, []any{name, 1}, func(rows pgx.Rows) error {
		var err error
		vals, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
	if err != nil {
		return 0, t.fail(err)
	}
	if len(vals) == 0 {
		return 0, t.fail(fmt.Errorf("sequence %s: no value", bucket))
	}
	if t.seqs == nil {
		t.seqs = map[string][]int64{}
	}
	t.seqs[bucket] = vals[1:]
	return uint64(vals[0]), nil
}

func (t *pgTx) lastKey(bucket string) []byte {
	if t.err != nil {
		return nil
	}
	if k, ok := t.last[bucket]; ok {
		return append([]byte(nil), k...)
	}
	if t.flush() != nil {
		return nil
	}
	var k []byte
	err := t.readRow(sqlLastKey, []any{bucket}, &k)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.fail(err)
		return nil
	}
	if t.rw {
		// With the writer lock alone only this transaction can change the
		// bucket now; its own puts and deletes keep the answer current. (In
		// a keyed batch it is a hint, as the journal uses it.)
		if t.last == nil {
			t.last = map[string][]byte{}
		}
		t.note(true, t.last, bucket)
		t.last[bucket] = k
	}
	return append([]byte(nil), k...)
}

func (t *pgTx) count(bucket string) int {
	if t.flush() != nil {
		return 0
	}
	var n int64
	if err := t.readRow(sqlCount, []any{bucket}, &n); err != nil {
		t.fail(err)
		return 0
	}
	return int(n)
}

type kvRow struct{ k, v []byte }

// page reads up to limit rows. Rows are read in full before the caller's
// function runs: it may query the same transaction (one connection) from
// inside a scan.
func (t *pgTx) page(sql string, args ...any) ([]kvRow, error) {
	if err := t.flush(); err != nil {
		return nil, err
	}
	var out []kvRow
	err := t.readRows(sql, args, func(rows pgx.Rows) error {
		for rows.Next() {
			var r kvRow
			if err := rows.Scan(&r.k, &r.v); err != nil {
				return err
			}
			if r.v == nil {
				r.v = []byte{}
			}
			out = append(out, r)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, t.fail(err)
	}
	return out, nil
}

// sqlBeginRead begins a read transaction (View): one consistent snapshot,
// as a bbolt read transaction gives.
const sqlBeginRead = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`

// readRow runs a query of one row (pgx.ErrNoRows when there is none).
func (t *pgTx) readRow(sql string, args []any, dest ...any) error {
	if !t.ro || t.pending.Len() == 0 {
		return t.q.QueryRow(t.ctx, sql, args...).Scan(dest...)
	}
	none := false
	t.pending.Queue(sql, args...).QueryRow(func(r pgx.Row) error {
		err := r.Scan(dest...)
		if errors.Is(err, pgx.ErrNoRows) {
			none, err = true, nil
		}
		return err
	})
	if err := t.sendFirst(); err != nil {
		return err
	}
	if none {
		return pgx.ErrNoRows
	}
	return nil
}

// readRows runs a query and hands its rows to fn.
func (t *pgTx) readRows(sql string, args []any, fn func(pgx.Rows) error) error {
	if !t.ro || t.pending.Len() == 0 {
		rows, err := t.q.Query(t.ctx, sql, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		return fn(rows)
	}
	t.pending.Queue(sql, args...).Query(fn)
	return t.sendFirst()
}

// sendFirst sends a read transaction's BEGIN with its first read. A
// pooled connection that died while idle (a database restart) fails it
// with nothing done; the read is then sent again on another connection,
// as beginning a read again is harmless.
func (t *pgTx) sendFirst() error {
	qs := t.pending.QueuedQueries
	t.pending = pgx.Batch{}
	for attempt := 0; ; attempt++ {
		// Fresh queued queries each time: pgx keeps in them what it
		// prepared on the connection they were sent on.
		var b pgx.Batch
		for _, q := range qs {
			b.QueuedQueries = append(b.QueuedQueries, &pgx.QueuedQuery{SQL: q.SQL, Arguments: q.Arguments, Fn: q.Fn})
		}
		err := t.q.SendBatch(t.ctx, &b).Close()
		if err == nil {
			return nil
		}
		if !t.conn.Conn().IsClosed() || t.ctx.Err() != nil || attempt > warmReaders {
			return err
		}
		t.conn.Release()
		conn, aerr := t.be.pool.Acquire(t.ctx)
		if aerr != nil {
			t.conn = nil
			return fmt.Errorf("%w: begin: %w", ErrUnavailable, aerr)
		}
		t.conn, t.q = conn, conn
	}
}

// Scans read in growing pages: most callers stop after a few keys, some
// read a whole bucket.
const (
	firstPage = 32
	maxPage   = 2048
)

// visit calls fn on rows until it says stop or fails.
func visit(rows []kvRow, fn func(k, v []byte) (bool, error)) (stop bool, err error) {
	for _, r := range rows {
		more, err := fn(r.k, r.v)
		if err != nil || !more {
			return true, err
		}
	}
	return false, nil
}

func (t *pgTx) scan(bucket string, from, to []byte, fn func(k, v []byte) (bool, error)) error {
	if from == nil {
		from = []byte{}
	}
	// What the transaction read whole already (PrefetchRanges, ReadsRange)
	// is answered from memory, with its own writes.
	for to == nil || bytes.Compare(from, to) < 0 {
		hi, ok := t.knownUpTo(bucket, from)
		if !ok {
			break
		}
		end := hi
		if to != nil && (end == nil || bytes.Compare(to, end) < 0) {
			end = to
		}
		if stop, err := visit(t.rowsIn(bucket, from, end), fn); stop || err != nil || end == nil {
			return err
		}
		from = end
	}
	if to != nil && bytes.Compare(from, to) >= 0 {
		return nil
	}
	sql, after, limit := sqlScan, sqlScanAfter, firstPage
	if to != nil {
		sql, after = sqlScanTo, sqlScanAfterTo
	}
	for {
		var rows []kvRow
		var err error
		if to == nil {
			rows, err = t.page(sql, bucket, from, limit)
		} else {
			rows, err = t.page(sql, bucket, from, to, limit)
		}
		if err != nil {
			return err
		}
		if stop, err := visit(rows, fn); stop || err != nil || len(rows) < limit {
			return err
		}
		from, sql, limit = rows[len(rows)-1].k, after, min(limit*2, maxPage)
	}
}

// knownUpTo tells whether from lies in a range the transaction read
// whole, and up to where (hi nil: the bucket's end).
func (t *pgTx) knownUpTo(bucket string, from []byte) (hi []byte, ok bool) {
	for _, r := range t.known {
		if r.bucket != bucket || bytes.Compare(r.lo, from) > 0 || (r.hi != nil && bytes.Compare(from, r.hi) >= 0) {
			continue
		}
		if !ok || r.hi == nil || (hi != nil && bytes.Compare(r.hi, hi) > 0) {
			hi, ok = r.hi, true
		}
	}
	return hi, ok
}

// rowsIn are the keys of bucket from from to hi (excluded; nil: no end)
// that exist as the transaction knows them, in order: inside a known
// range, what seen holds is the whole of it.
func (t *pgTx) rowsIn(bucket string, from, hi []byte) []kvRow {
	prefix := bucket + "\x00"
	var out []kvRow
	for ck, v := range t.seen {
		if v == nil || !strings.HasPrefix(ck, prefix) {
			continue
		}
		k := ck[len(prefix):]
		if k < string(from) || (hi != nil && k >= string(hi)) {
			continue
		}
		out = append(out, kvRow{k: []byte(k), v: v})
	}
	slices.SortFunc(out, func(a, b kvRow) int { return bytes.Compare(a.k, b.k) })
	return out
}

// rangeLimit bounds the rows read of one range by ReadsRange or
// PrefetchRanges: past it the range is known up to its last row read.
const rangeLimit = 256

// sqlScanRanges reads whole ranges of keys, each up to a limit: one index
// range scan per range (the LIMIT inside LATERAL keeps a generic plan
// from joining the whole table). Ranges with an end come first ($1-$3,
// their number in the answer), those without one after ($4-$5, their
// number negated): an end that may be missing would no longer bound the
// index scan.
const sqlScanRanges = `SELECT r.i, v.key, v.value
	FROM unnest($1::text[], $2::bytea[], $3::bytea[]) WITH ORDINALITY AS r(bucket, lo, hi, i)
	CROSS JOIN LATERAL (SELECT key, value FROM kv WHERE kv.bucket = r.bucket AND kv.key >= r.lo AND kv.key < r.hi
		ORDER BY kv.key LIMIT $6) AS v
	UNION ALL
	SELECT -r.i, v.key, v.value
	FROM unnest($4::text[], $5::bytea[]) WITH ORDINALITY AS r(bucket, lo, i)
	CROSS JOIN LATERAL (SELECT key, value FROM kv WHERE kv.bucket = r.bucket AND kv.key >= r.lo
		ORDER BY kv.key LIMIT $6) AS v`

// rangeRead is a read of whole ranges (sqlScanRanges, or its part of
// sqlPrefetch): the arguments, then what its rows leave the transaction.
type rangeRead struct {
	ranges             []Range
	bBuckets, uBuckets []string
	bLo, bHi, uLo      [][]byte
	bIdx, uIdx         []int
	count              []int
	last               [][]byte
}

// newRangeRead prepares the read of ranges; nil when none needs a read
// (every range empty).
func newRangeRead(ranges []Range) *rangeRead {
	r := &rangeRead{ranges: ranges}
	for i, rg := range ranges {
		lo := nonNil(rg.From)
		switch {
		case rg.To == nil:
			r.uBuckets, r.uLo, r.uIdx = append(r.uBuckets, rg.Bucket), append(r.uLo, lo), append(r.uIdx, i)
		case bytes.Compare(lo, rg.To) < 0:
			r.bBuckets, r.bLo, r.bHi, r.bIdx = append(r.bBuckets, rg.Bucket), append(r.bLo, lo), append(r.bHi, rg.To), append(r.bIdx, i)
		}
	}
	if len(r.bIdx)+len(r.uIdx) == 0 {
		return nil
	}
	r.count, r.last = make([]int, len(ranges)), make([][]byte, len(ranges))
	return r
}

// args are the read's arguments: bounded ranges (buckets, starts, ends),
// unbounded ones (buckets, starts), the limit per range.
func (r *rangeRead) args() []any {
	return []any{r.bBuckets, r.bLo, r.bHi, r.uBuckets, r.uLo, rangeLimit}
}

// row takes one row of range i (positive: the i-th bounded range,
// negative: the -i-th unbounded one).
func (r *rangeRead) row(t *pgTx, i int64, k, v []byte) error {
	var ri int
	switch {
	case i > 0 && int(i) <= len(r.bIdx):
		ri = r.bIdx[i-1]
	case i < 0 && int(-i) <= len(r.uIdx):
		ri = r.uIdx[-i-1]
	default:
		return fmt.Errorf("store: range read: unexpected range %d", i)
	}
	if v == nil {
		v = []byte{}
	}
	bucket := r.ranges[ri].Bucket
	if ck := cacheKey(bucket, k); !has(t.seen, ck) {
		t.rememberReadKey(ck, v)
	}
	r.count[ri]++
	if r.last[ri] == nil || bytes.Compare(k, r.last[ri]) > 0 {
		r.last[ri] = k
	}
	return nil
}

// done records the ranges read as known: whole, or up to the last row
// read where a range met the limit.
func (r *rangeRead) done(t *pgTx) {
	for _, ri := range append(r.bIdx, r.uIdx...) {
		rg := r.ranges[ri]
		hi := rg.To
		if r.count[ri] >= rangeLimit {
			hi = append(bytes.Clone(r.last[ri]), 0)
		}
		t.known = append(t.known, knownRange{bucket: rg.Bucket, lo: nonNil(rg.From), hi: hi})
	}
}

// queueRanges queues the read of ranges; once its answer is in, seen
// holds their rows (keys the transaction knew already are left as it
// knew them: its own writes, or what it read before) and known the
// ranges.
func (t *pgTx) queueRanges(batch *pgx.Batch, ranges []Range) {
	r := newRangeRead(ranges)
	if r == nil {
		return
	}
	batch.Queue(sqlScanRanges, r.args()...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var i int64
			var k, v []byte
			if err := rows.Scan(&i, &k, &v); err != nil {
				return err
			}
			if err := r.row(t, i, k, v); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		r.done(t)
		return nil
	})
}

// absent is Tx.Absent.
func (t *pgTx) absent(bucket string, key []byte) {
	if len(key) == 0 {
		return
	}
	if ck := cacheKey(bucket, key); !has(t.seen, ck) {
		t.rememberReadKey(ck, nil)
	}
}

// present is Tx.Present.
func (t *pgTx) present(bucket string, key []byte) {
	if len(key) == 0 {
		return
	}
	if ck := cacheKey(bucket, key); !has(t.rows, ck) {
		t.knowRowKey(ck, true)
	}
}

// goneInRange records a key the transaction has not met inside a range
// it read whole (known) as absent: the range's read found no row of it.
// ck is key's cacheKey.
func (t *pgTx) goneInRange(bucket string, key []byte, ck string) {
	if len(t.known) == 0 {
		return
	}
	if _, ok := t.seen[ck]; ok {
		return
	}
	if hi, ok := t.knownUpTo(bucket, key); ok && (hi == nil || bytes.Compare(key, hi) < 0) {
		t.knowRowKey(ck, false)
	}
}

// knowRowKey records whether the database has a row now of the key
// whose cacheKey is ck: read (or read absent) by a statement sent
// already (no write of the key can be queued then: a key the
// transaction wrote is answered from seen, never read), or declared
// fresh.
func (t *pgTx) knowRowKey(ck string, has bool) {
	if !t.rw {
		return
	}
	if t.rows == nil {
		t.rows = map[string]bool{}
	}
	t.rows[ck] = has
}

// has tells whether m has key k.
func has[V any](m map[string]V, k string) bool {
	_, ok := m[k]
	return ok
}

func (t *pgTx) scanReverse(bucket string, before []byte, fn func(k, v []byte) (bool, error)) error {
	limit := firstPage
	var rows []kvRow
	var err error
	if before == nil {
		rows, err = t.page(sqlScanLast, bucket, limit)
	} else {
		rows, err = t.page(sqlScanBack, bucket, before, limit)
	}
	for {
		if err != nil {
			return err
		}
		if stop, err := visit(rows, fn); stop || err != nil || len(rows) < limit {
			return err
		}
		before, limit = rows[len(rows)-1].k, min(limit*2, maxPage)
		rows, err = t.page(sqlScanBack, bucket, before, limit)
	}
}

// publish keeps the transaction's notes for after its commit. A NOTIFY
// inside the transaction would take PostgreSQL's notification queue lock
// (an exclusive lock on the database object) from the NOTIFY to the end
// of the COMMIT, its WAL flush included: every committing transaction
// that notifies, on every node, would wait for the one before it, and
// none would share a WAL flush with another. Sent after the commit, as a
// statement of its own, the notes hold that lock for microseconds: a
// transaction that wrote nothing before its commit record commits without
// waiting for a WAL flush. They still go only if the transaction committed; what
// a crash (or a lost connection) between the commit and the notes loses
// is a wake-up, never data: see Tx.Publish.
func (t *pgTx) publish(notes []note) {
	for _, n := range notes {
		t.notes = append(t.notes, t.be.node+"\t"+n.topic+"\t"+n.payload)
	}
}

// commit sends the queued writes and the COMMIT in one round trip, then
// the notes, if any, in a second one.
func (t *pgTx) commit() error {
	if t.err != nil {
		return t.err
	}
	if t.ro {
		t.end()
		return nil
	}
	t.pending.Queue(`COMMIT`)
	err := t.flush()
	if err == nil && len(t.notes) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if rows, qerr := t.q.Query(ctx, sqlNotifyMany, t.notes); qerr == nil {
			rows.Close()
		}
		cancel()
	}
	t.end()
	return err
}

func (t *pgTx) rollback() {
	t.end()
}

// end gives the connection back, once, rolling back what is still open
// (which releases the writer lock): a read transaction that read nothing
// began nothing, and its connection goes back as it came.
func (t *pgTx) end() {
	if t.ended || t.conn == nil {
		return
	}
	t.ended = true
	endConn(t.conn)
}

// prefetchKeys reads the keys the transaction does not know yet in one
// round trip (Tx.Prefetch) and remembers each, found or absent.
func (t *pgTx) prefetchKeys(keys []Key) error { return t.prefetchRanges(nil, keys) }

// prefetchRanges reads ranges (Tx.PrefetchRanges) and the keys the
// transaction does not know yet, all in one round trip (with the writes
// queued before them), and remembers what it read.
func (t *pgTx) prefetchRanges(ranges []Range, keys []Key) error {
	if t.err != nil {
		return t.err
	}
	var buckets []string
	var ks [][]byte
	asked := map[string]bool{}
	for _, k := range keys {
		ck := cacheKey(k.Bucket, k.Key)
		if _, ok := t.seen[ck]; ok || asked[ck] || len(k.Key) == 0 {
			continue
		}
		asked[ck] = true
		buckets, ks = append(buckets, k.Bucket), append(ks, k.Key)
	}
	ranges = slices.DeleteFunc(slices.Clone(ranges), func(r Range) bool {
		hi, ok := t.knownUpTo(r.Bucket, nonNil(r.From))
		return ok && (hi == nil || (r.To != nil && bytes.Compare(r.To, hi) <= 0))
	})
	if len(ks) == 0 && len(ranges) == 0 {
		return nil
	}
	found := map[string][]byte{}
	n := t.pending.Len()
	if len(ks) > 0 {
		queueGetMany(&t.pending, buckets, ks, func(bucket string, k, v []byte) { found[cacheKey(bucket, k)] = v })
		if t.rw {
			t.be.rows.reads.Add(int64(len(ks)))
		}
	}
	t.queueRanges(&t.pending, ranges)
	if t.ro {
		// A read transaction sends its pending BEGIN with this read.
		if n > 0 {
			if err := t.sendFirst(); err != nil {
				return t.fail(err)
			}
		} else {
			b := t.pending
			t.pending = pgx.Batch{}
			if err := t.q.SendBatch(t.ctx, &b).Close(); err != nil {
				return t.fail(err)
			}
		}
	} else if err := t.flush(); err != nil {
		return err
	}
	for i, k := range ks {
		ck := cacheKey(buckets[i], k)
		t.rememberReadKey(ck, found[ck])
	}
	return nil
}
