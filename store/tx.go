package store

import (
	"bytes"
	"context"
	"slices"
	"strings"
)

// Tx is a transaction as domain packages see it: buckets named by string,
// keys and values as bytes. Slices returned by Get and passed to scan
// functions are valid only inside the transaction.
//
// Tx is the same for every backend. On PostgreSQL a read can fail (the
// connection is lost); Get has no error to return, so the failure is kept
// in the transaction and fails its commit (Update) or its View: a function
// that decided something on a nil from a failed Get never gets it
// committed.
type Tx struct {
	ops txOps
	// notes are what the transaction publishes to the other nodes once it
	// commits (see Publish).
	notes []note
	// missing are the names the running function asked for with Need
	// that its batch does not hold; owned the names it made (Own).
	missing []string
	owned   map[string]bool
}

// txOps is one backend's transaction.
type txOps interface {
	writable() bool
	get(bucket string, key []byte) []byte
	put(bucket string, key, value []byte) error
	del(bucket string, key []byte) error
	sequence(bucket string) (uint64, error)
	lastKey(bucket string) []byte
	count(bucket string) int
	// scan visits keys >= from and, unless to is nil, < to.
	scan(bucket string, from, to []byte, fn func(k, v []byte) (bool, error)) error
	scanReverse(bucket string, before []byte, fn func(k, v []byte) (bool, error)) error
	// failed is the first error a method could not return (nil if none).
	failed() error
	commit() error
	rollback()
}

// Writable tells whether the transaction may write.
func (t *Tx) Writable() bool { return t.ops.writable() }

// Get returns the value of key in bucket, or nil.
func (t *Tx) Get(bucket string, key []byte) []byte { return t.ops.get(bucket, key) }

// Put stores value under key, creating the bucket if needed.
func (t *Tx) Put(bucket string, key, value []byte) error { return t.ops.put(bucket, key, value) }

// Delete removes key from bucket; a missing key or bucket is not an error.
func (t *Tx) Delete(bucket string, key []byte) error { return t.ops.del(bucket, key) }

// Sequence returns the next value of bucket's counter (starting at 1).
// Values are unique across nodes; on PostgreSQL a rolled-back transaction,
// or a value named with Draws and not taken (a duplicate accept), leaves a
// gap, so callers may rely on order and uniqueness, not density.
func (t *Tx) Sequence(bucket string) (uint64, error) { return t.ops.sequence(bucket) }

// LastKey returns a copy of the largest key of bucket, or nil.
func (t *Tx) LastKey(bucket string) []byte { return t.ops.lastKey(bucket) }

// Count returns the number of keys in bucket.
func (t *Tx) Count(bucket string) int { return t.ops.count(bucket) }

// Scan calls fn for each key >= from in ascending order (from nil: the
// first key) until fn returns false or an error. Do not write to the
// bucket being scanned from fn; collect keys and write afterwards.
func (t *Tx) Scan(bucket string, from []byte, fn func(k, v []byte) (bool, error)) error {
	return t.ops.scan(bucket, from, nil, fn)
}

// ScanRange is Scan that stops before key to (to nil: no end). On
// PostgreSQL the end goes into the query, so the database reads only the
// rows of the range, where a Scan that fn stops at the first key past it
// reads a page (32 rows and more) of the keys that follow; none at all
// when the transaction read the range already (ReadsRange,
// PrefetchRanges).
func (t *Tx) ScanRange(bucket string, from, to []byte, fn func(k, v []byte) (bool, error)) error {
	return t.ops.scan(bucket, from, to, fn)
}

// ScanPrefix calls fn for each key that starts with prefix, in ascending
// order, until fn returns false or an error (see ScanRange).
func (t *Tx) ScanPrefix(bucket string, prefix []byte, fn func(k, v []byte) (bool, error)) error {
	return t.ops.scan(bucket, prefix, PrefixEnd(prefix), fn)
}

// PrefixEnd is the first key after every key that starts with prefix
// (nil: there is none, the prefix is empty or all 0xff).
func PrefixEnd(prefix []byte) []byte {
	end := bytes.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// ranger is a transaction that reads ranges ahead (PostgreSQL).
type ranger interface {
	prefetchRanges(ranges []Range, keys []Key) error
	absent(bucket string, key []byte)
	present(bucket string, key []byte)
}

// Range names the keys of Bucket from From (included; nil: the first) to
// To (excluded; nil: the bucket's end).
type Range struct {
	Bucket   string
	From, To []byte
}

// PrefetchRanges is Prefetch for whole ranges of keys, and keys, in one
// round trip on PostgreSQL: later scans inside a range (Scan, ScanRange)
// and Gets of its keys are answered from memory, with the transaction's
// own writes. A range of more than rangeLimit rows is known up to its
// rangeLimit-th row and read on from there when a scan gets that far.
// With bbolt it does nothing.
func (t *Tx) PrefetchRanges(ranges []Range, keys ...Key) {
	if r, ok := t.ops.(ranger); ok && len(ranges)+len(keys) > 0 {
		_ = r.prefetchRanges(ranges, keys) // a failure is kept in the transaction (failed)
	}
}

// Absent tells the transaction that key of bucket does not exist: it was
// made in this transaction from a fresh store.NewID, which nobody else can
// know, so a Get of it needs no read. On PostgreSQL that Get costs no
// round trip then; with bbolt (a Get costs none) it does nothing. A key
// the transaction has read or written already is left as it knows it.
func (t *Tx) Absent(bucket string, key []byte) {
	if r, ok := t.ops.(ranger); ok {
		r.absent(bucket, key)
	}
}

// Present tells the transaction that key of bucket has a row, which no
// other writer deletes while the transaction holds its locks: the
// caller knows it from what it read under them (the hold queue: every
// message of a held email has its delivery record, written with it and
// deleted only with the job). On PostgreSQL a Put of it is then a plain
// UPDATE, not an upsert (no row lock before the update: a WAL record
// and an index probe less); a promise broken fails the transaction
// before its COMMIT (errRowsGone), which runs again and then fails. With
// bbolt it does nothing. A key the transaction knows already is left as
// it knows it.
func (t *Tx) Present(bucket string, key []byte) {
	if r, ok := t.ops.(ranger); ok {
		r.present(bucket, key)
	}
}

// ScanReverse calls fn for each key < before in descending order (before
// nil: from the last key) until fn returns false or an error.
func (t *Tx) ScanReverse(bucket string, before []byte, fn func(k, v []byte) (bool, error)) error {
	return t.ops.scanReverse(bucket, before, fn)
}

// Publish tells the other nodes sharing the database, once the
// transaction commits, that something happened on topic (payload at most
// 1,000 bytes). Nothing is sent for a transaction that rolls back. With
// bbolt there are no other nodes and Publish does nothing.
//
// On PostgreSQL the notes go in a statement of their own right after the
// COMMIT (not inside the transaction, where NOTIFY would serialise every
// notifying commit of the cluster behind one lock, WAL flush included),
// so a crash or a lost connection between the two loses them: a note is
// a wake-up, and every subscriber must find the news without it (a
// periodic scan or poll, or a read when its client comes back), as it
// must after the bus reconnects.
func (t *Tx) Publish(topic, payload string) {
	t.notes = append(t.notes, note{topic: topic, payload: payload})
}

// PruneBefore deletes the keys of bucket that sort before limit, at most
// batch keys per transaction, until none is left or ctx ends. Small batches
// keep each commit short: one huge delete makes bbolt rewrite a large
// freelist and stalls every writer waiting behind it. also, if set, runs in
// the same transaction for each deleted key (to drop index entries).
func (db *DB) PruneBefore(ctx context.Context, bucket string, limit []byte, batch int, also func(tx *Tx, k, v []byte) error) (int, error) {
	if batch <= 0 {
		batch = 500
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := db.Update(ctx, func(tx *Tx) error {
			n = 0
			type kv struct{ k, v []byte }
			var doomed []kv
			err := tx.Scan(bucket, nil, func(k, v []byte) (bool, error) {
				if bytes.Compare(k, limit) >= 0 {
					return false, nil
				}
				doomed = append(doomed, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
				return len(doomed) < batch, nil
			})
			if err != nil {
				return err
			}
			for _, d := range doomed {
				if also != nil {
					if err := also(tx, d.k, d.v); err != nil {
						return err
					}
				}
				if err := tx.Delete(bucket, d.k); err != nil {
					return err
				}
			}
			n = len(doomed)
			return nil
		}, Background())
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}

// NeedLocks is the error of a function that asked, with Tx.Need, for
// locks its batch does not hold. The store undoes the function's writes
// and runs it again with Names added to what it declared (Locks), so a
// caller of Update sees it only from a write that asked for them in a
// transaction where they cannot be had.
type NeedLocks struct{ Names []string }

func (e *NeedLocks) Error() string {
	return "store: the write needs locks it did not declare: " + strings.Join(e.Names, ", ")
}

// needer is a transaction whose locks can be checked (PostgreSQL).
type needer interface {
	// holds tells whether the transaction holds name exclusively (or
	// needs no name: the writer lock alone, a read-only snapshot).
	holds(name string) bool
}

// Need tells the store that the running function is about to read, and
// may then write, data that the lock name covers (one conversation, one
// address, one job): the lowest-level accessors of shared data call it
// before they read, so that a writer cannot forget a lock. With bbolt (one
// writer), in a View, or in a PostgreSQL batch that holds the writer lock
// alone it does nothing. In a PostgreSQL batch that declared its locks
// (Locks), a name the batch does not hold exclusively (declared, taken
// with Tx.Lock, or made by this transaction: Own) is noted, the function
// goes on (what it reads now may be stale, but nothing it writes is
// kept), and when it returns its writes are undone and it is run again,
// in a transaction of its own, with every name it missed declared: the
// locks are still all taken in one sorted order at the start, so this
// adds no deadlock. After maxNeedReruns such reruns the function runs
// with the writer lock alone.
func (t *Tx) Need(names ...string) {
	h, ok := t.ops.(needer)
	if !ok {
		return
	}
	for _, n := range names {
		if t.owned[n] || slices.Contains(t.missing, n) || h.holds(n) {
			continue
		}
		t.missing = append(t.missing, n)
	}
}

// Own marks names as covering data this transaction creates under keys
// nobody else can know yet (a fresh store.NewID): Need asks no lock for
// them.
func (t *Tx) Own(names ...string) {
	if t.owned == nil {
		t.owned = map[string]bool{}
	}
	for _, n := range names {
		t.owned[n] = true
	}
}

// locker is a transaction that can take named locks (PostgreSQL). bbolt
// has one writer: every lock is already its own.
type locker interface {
	lock(name string, wait bool, fresh []Key) (bool, error)
	lockAll(names []string, fresh [][]Key, wait bool, lim FreshLimit) ([]bool, error)
	fetched(bucket string, key []byte) bool
}

// Lock takes the lock called name until the transaction ends, waiting
// for any other transaction (of this node or another) that holds it, and
// then reads the keys in fresh afresh: what the transaction had read of
// them before the lock may be stale. Locks taken this way, after others,
// can deadlock with another transaction; the database then fails one of
// them and its batch runs again (see Locks). With bbolt it does nothing.
func (t *Tx) Lock(name string, fresh ...Key) error {
	if l, ok := t.ops.(locker); ok {
		_, err := l.lock(name, true, fresh)
		return err
	}
	return nil
}

// TryLock takes the lock called name if no other transaction holds it
// (reporting false, and reading nothing, if one does: SKIP LOCKED for
// claims and leases), then reads the keys in fresh afresh. It never
// waits, so it never deadlocks. With bbolt it always succeeds.
func (t *Tx) TryLock(name string, fresh ...Key) (bool, error) {
	if l, ok := t.ops.(locker); ok {
		return l.lock(name, false, fresh)
	}
	return true, nil
}

// TryLockAll is TryLock for several names in one round trip: got[i]
// tells whether names[i] is held now, and fresh[i] (if given) are the
// keys read afresh once it is. Claims and leases take every candidate's
// lock with it before they look at each.
func (t *Tx) TryLockAll(names []string, fresh [][]Key) ([]bool, error) {
	if l, ok := t.ops.(locker); ok {
		return l.lockAll(names, fresh, false, FreshLimit{})
	}
	got := make([]bool, len(names))
	for i := range got {
		got[i] = true
	}
	return got, nil
}

// TryLockRecords is TryLockAll for records of one bucket, each with a
// lock of its own: it takes lock(id) of every id it can and reads the
// record bucket/id afresh for each one taken.
func (t *Tx) TryLockRecords(bucket string, ids []string, lock func(id string) string) ([]bool, error) {
	names := make([]string, len(ids))
	fresh := make([][]Key, len(ids))
	for i, id := range ids {
		names[i] = lock(id)
		fresh[i] = []Key{{Bucket: bucket, Key: []byte(id)}}
	}
	return t.TryLockAll(names, fresh)
}

// FreshLimit bounds what the fresh reads of TryLockAllLimit bring back:
// values of Bucket only while their sizes add up to at most Bytes, in
// the order of the locks (a value that would go past it is not read,
// and neither is any after it).
type FreshLimit struct {
	Bucket string
	Bytes  int
}

// TryLockAllLimit is TryLockAll whose fresh reads bring back only the
// keys of the locks taken (the database reads no value of a lock another
// transaction holds) and, of lim.Bucket, only values within lim.Bytes:
// a key left out is not read (Fetched tells; Get would read it in a
// round trip of its own). The pipeline's claim reads its emails' records
// and raw bytes this way. With bbolt it is TryLockAll: every key can be
// read at no cost.
func (t *Tx) TryLockAllLimit(names []string, fresh [][]Key, lim FreshLimit) ([]bool, error) {
	if l, ok := t.ops.(locker); ok {
		return l.lockAll(names, fresh, false, lim)
	}
	return t.TryLockAll(names, fresh)
}

// Fetched tells whether Get of key would answer without reading the
// database: on PostgreSQL, whether the transaction has read or written
// it (a fresh read, store.Reads); with bbolt always.
func (t *Tx) Fetched(bucket string, key []byte) bool {
	if l, ok := t.ops.(locker); ok {
		return l.fetched(bucket, key)
	}
	return true
}

// prefetcher is a transaction that can read many keys in one round trip
// (PostgreSQL).
type prefetcher interface {
	prefetchKeys(keys []Key) error
}

// Prefetch reads the keys a function is about to Get, all in one round
// trip on PostgreSQL (with the writes queued before it), instead of one
// round trip per Get; keys the transaction knows already (read or
// written) are not asked again. The later Gets are answered from memory,
// as a key read twice is. Use it where the keys are known only inside the
// function (else name them with Reads, which costs no round trip at all).
// With bbolt it does nothing.
func (t *Tx) Prefetch(keys ...Key) {
	if p, ok := t.ops.(prefetcher); ok && len(keys) > 0 {
		_ = p.prefetchKeys(keys) // a failure is kept in the transaction (failed)
	}
}
