package jobs

import (
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
		return zero, errors.Join(err, ErrNotClaimable)
	}
	if err := t.Lease(&r).Claim(c, now); err != nil {
		return zero, err
	}
	if also != nil {
		also(&r)
	}
	return r, t.Put(tx, id, &r)
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
	renewed, err := t.Lease(&r).Renew(c, now, d)
	if err != nil || !renewed {
		return false, err
	}
	return true, t.Put(tx, id, &r)
}

func (t Table[R]) end(tx *store.Tx, id string, c Claim, also func(*R), op func(*Lease) error) (R, error) {
	var zero R
	r, err := t.Check(tx, id, c)
	if err != nil {
		return zero, err
	}
	if err := op(t.Lease(&r)); err != nil {
		return zero, err
	}
	if also != nil {
		also(&r)
	}
	return r, t.Put(tx, id, &r)
}
