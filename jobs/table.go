package jobs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"time"

	"github.com/deskmail/deskmail/store"
)

// Table is where a package keeps records of one kind, one value per
// record in one bucket, each with a lock of its own (store.Locks): the
// claim's SKIP LOCKED step and the checked writes of a claim's end.
// R is the package's record; Lease points at the engine's part of it.
type Table[R any] struct {
	Bucket string
	Lock   func(id string) string
	// Get reads a record (false: there is none); Put writes it. A
	// package with indexes beside the record keeps them in Put.
	Get   func(tx *store.Tx, id string) (R, bool, error)
	Put   func(tx *store.Tx, id string, r *R) error
	Lease func(r *R) *Lease
	// Due, if set, is the bucket of the table's due index: one key for
	// every record whose lease nobody holds (Lease.Until zero), made of
	// its next attempt, its Order and its id (DueKey), so that a claim
	// reads the records that are due and nothing else (ScanDue), instead
	// of every record from the first. A held lease has no key: the
	// claim took it out, and the owner's end (Release, Defer) puts one
	// back; a lease that runs out because its owner died, and a record
	// written without its key (by an older deskmail), are found by a
	// scan of the whole table, which a caller runs now and then (the
	// pipeline at its start and every Rescan). Every write of a record
	// through the Table keeps its key; a package that writes or deletes
	// a record itself calls Write or Unindex.
	Due string
	// Order, if set, is the record's place among the records due at the
	// same time (inbound: its sequence, the 250 order), OrderLen bytes
	// that follow the time in the key, compared as bytes.
	Order    func(r *R) []byte
	OrderLen int
}

// DueKey is record id's key in the due index (nil: it has none, its
// lease is held or the table keeps no index): 8 bytes of its next
// attempt (big-endian Unix nanoseconds; 0 for none, due at once), its
// Order, its id.
func (t Table[R]) DueKey(id string, r *R) []byte {
	if t.Due == "" {
		return nil
	}
	l := t.Lease(r)
	if !l.Until.IsZero() {
		return nil
	}
	var order []byte
	if t.Order != nil {
		order = t.Order(r)
	}
	k := make([]byte, 8, 8+len(order)+len(id))
	binary.BigEndian.PutUint64(k, dueNanos(l.Next))
	return append(append(k, order...), id...)
}

// dueNanos is a next attempt in the due index: 0 for none (or one before
// 1970), which sorts before every time.
func dueNanos(t time.Time) uint64 {
	if t.IsZero() || t.Unix() < 0 {
		return 0
	}
	return max(uint64(t.UnixNano()), 1)
}

// Write writes record id as r (Put) and moves its key in the due index
// from where before had it (before nil: the record is new).
func (t Table[R]) Write(tx *store.Tx, id string, before, r *R) error {
	if err := t.Put(tx, id, r); err != nil {
		return err
	}
	return t.moveDue(tx, id, before, r)
}

// Unindex takes record id, as r, out of the due index: the caller
// deletes the record (or moves it out of the table).
func (t Table[R]) Unindex(tx *store.Tx, id string, r *R) error {
	return t.moveDue(tx, id, r, nil)
}

func (t Table[R]) moveDue(tx *store.Tx, id string, before, after *R) error {
	if t.Due == "" {
		return nil
	}
	var old, key []byte
	if before != nil {
		old = t.DueKey(id, before)
	}
	if after != nil {
		key = t.DueKey(id, after)
	}
	if bytes.Equal(old, key) {
		return nil
	}
	if old != nil {
		if err := tx.Delete(t.Due, old); err != nil {
			return err
		}
	}
	if key != nil {
		return tx.Put(t.Due, key, nil)
	}
	return nil
}

// Due is one record of the due index (ScanDueTimed, ScanDueNow).
type Due struct {
	ID    string
	Order []byte
	Key   []byte // its key, for ClaimDue
}

// ScanDueTimed calls fn, oldest first, with the records of the due index
// whose next attempt was a time and has come (a retry after a failure, a
// claim given back with a wait), until fn returns false; it returns the
// next attempt of the first record not yet due (zero: none, or fn
// stopped first). The database reads those keys (and, in the same page,
// a few of those not yet due), nothing else: no record, and no key of a
// record that is leased.
func (t Table[R]) ScanDueTimed(tx *store.Tx, now time.Time, fn func(d Due) (bool, error)) (time.Time, error) {
	var one [8]byte
	binary.BigEndian.PutUint64(one[:], 1)
	limit := dueNanos(now)
	var next time.Time
	visit := t.visitDue(fn)
	err := tx.ScanRange(t.Due, one[:], nil, func(k, v []byte) (bool, error) {
		if len(k) >= 8 {
			if at := binary.BigEndian.Uint64(k); at > limit {
				next = time.Unix(0, int64(at))
				return false, nil
			}
		}
		return visit(k, v)
	})
	return next, err
}

// ScanDueNow calls fn, in their Order, with the records of the due index
// that were due at once when written (new records, claims given back
// with no wait), until fn returns false.
func (t Table[R]) ScanDueNow(tx *store.Tx, fn func(d Due) (bool, error)) error {
	var one [8]byte
	binary.BigEndian.PutUint64(one[:], 1)
	return tx.ScanRange(t.Due, nil, one[:], t.visitDue(fn))
}

func (t Table[R]) visitDue(fn func(d Due) (bool, error)) func(k, _ []byte) (bool, error) {
	return func(k, _ []byte) (bool, error) {
		if len(k) <= 8+t.OrderLen {
			return true, nil // not a key of this index
		}
		k = bytes.Clone(k) // bbolt's is only good inside its transaction
		return fn(Due{Order: k[8 : 8+t.OrderLen], ID: string(k[8+t.OrderLen:]), Key: k})
	}
}

// TryLock takes, in one round trip, the lock of every record of ids that
// no other transaction holds (SKIP LOCKED: one that another node is
// claiming or ending now is left to it) and reads those afresh: what a
// scan before the lock saw of them may be stale. It returns the ids it
// holds, in order. With bbolt, the one writer, it holds them all.
func (t Table[R]) TryLock(tx *store.Tx, ids []string) ([]string, error) {
	got, err := tx.TryLockRecords(t.Bucket, ids, t.Lock)
	if err != nil {
		return nil, err
	}
	held := make([]string, 0, len(ids))
	for i, id := range ids {
		if got[i] {
			held = append(held, id)
		}
	}
	return held, nil
}

// Claim claims record id for c at now (see Lease.Claim): it takes the
// record's lock without waiting (ErrNotClaimable if another transaction
// holds it; no round trip if TryLock took it), reads it afresh, claims
// and writes it. also, if set, changes the record further before the
// write. It returns the record as written: its Lease's Held() is the
// claim.
func (t Table[R]) Claim(tx *store.Tx, id string, c Claimer, now time.Time, also func(*R)) (R, error) {
	return t.claim(tx, id, nil, c, now, nil, also)
}

// ClaimDue claims record d of the due index (ScanDue) as Claim does. A
// key the record does not have (the scan's snapshot is older than the
// record's last write, or an older deskmail left it) is put right while
// the record's lock is held: taken out, and the record's own put in.
func (t Table[R]) ClaimDue(tx *store.Tx, d Due, c Claimer, now time.Time, also func(*R)) (R, error) {
	return t.claim(tx, d.ID, d.Key, c, now, nil, also)
}

// ClaimDueUnless is ClaimDue, except that a record for which hold, given
// the record as read, returns true is not claimed (ErrNotClaimable):
// nothing is written but a stale key's repair.
func (t Table[R]) ClaimDueUnless(tx *store.Tx, d Due, c Claimer, now time.Time, hold func(*R) bool, also func(*R)) (R, error) {
	return t.claim(tx, d.ID, d.Key, c, now, hold, also)
}

func (t Table[R]) claim(tx *store.Tx, id string, seen []byte, c Claimer, now time.Time, hold func(*R) bool, also func(*R)) (R, error) {
	var zero R
	got, err := tx.TryLock(t.Lock(id), store.Key{Bucket: t.Bucket, Key: []byte(id)})
	if err != nil {
		return zero, err
	}
	if !got {
		return zero, ErrNotClaimable
	}
	r, ok, err := t.Get(tx, id)
	if err != nil || !ok {
		if err == nil && seen != nil {
			err = tx.Delete(t.Due, seen) // the record is gone
		}
		return zero, errors.Join(err, ErrNotClaimable)
	}
	before := r
	if seen != nil {
		if key := t.DueKey(id, &r); !bytes.Equal(key, seen) {
			// Delete what the scan saw, and (below, or now if the
			// claim fails) make sure of the record's own key.
			if err := tx.Delete(t.Due, seen); err != nil {
				return zero, err
			}
			if key != nil {
				if err := tx.Put(t.Due, key, nil); err != nil {
					return zero, err
				}
			}
		}
	}
	if hold != nil && hold(&r) {
		return zero, ErrNotClaimable
	}
	if err := t.Lease(&r).Claim(c, now); err != nil {
		return zero, err
	}
	if also != nil {
		also(&r)
	}
	return r, t.Write(tx, id, &before, &r)
}

// Check reads record id and fails with ErrClaimLost unless claim c still
// holds it.
func (t Table[R]) Check(tx *store.Tx, id string, c Claim) (R, error) {
	var zero R
	r, ok, err := t.Get(tx, id)
	if err != nil {
		return zero, err
	}
	if !ok {
		return zero, ErrClaimLost
	}
	if err := t.Lease(&r).Check(c); err != nil {
		return zero, err
	}
	return r, nil
}

// Release gives claim c of record id back (Lease.Release) and writes it.
func (t Table[R]) Release(tx *store.Tx, id string, c Claim, next time.Time, also func(*R)) (R, error) {
	return t.end(tx, id, c, also, func(l *Lease) error { return l.Release(c, next) })
}

// Defer ends claim c of record id after a transient failure
// (Lease.Defer) and writes it.
func (t Table[R]) Defer(tx *store.Tx, id string, c Claim, reason string, next time.Time, also func(*R)) (R, error) {
	return t.end(tx, id, c, also, func(l *Lease) error { return l.Defer(c, reason, next) })
}

// Renew extends claim c's lease of record id (Lease.Renew), writing it
// only if it did.
func (t Table[R]) Renew(tx *store.Tx, id string, c Claim, now time.Time, d time.Duration) (bool, error) {
	r, err := t.Check(tx, id, c)
	if err != nil {
		return false, err
	}
	before := r
	renewed, err := t.Lease(&r).Renew(c, now, d)
	if err != nil || !renewed {
		return false, err
	}
	return true, t.Write(tx, id, &before, &r)
}

func (t Table[R]) end(tx *store.Tx, id string, c Claim, also func(*R), op func(*Lease) error) (R, error) {
	var zero R
	r, err := t.Check(tx, id, c)
	if err != nil {
		return zero, err
	}
	before := r
	if err := op(t.Lease(&r)); err != nil {
		return zero, err
	}
	if also != nil {
		also(&r)
	}
	return r, t.Write(tx, id, &before, &r)
}
