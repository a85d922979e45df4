// Package jobs is the one job engine of the write path: the lease record
// that the inbound pipeline's pending emails and the hold queue's jobs
// both carry, its claim, fence, renewal, release, deferral and set-aside,
// the claim's SKIP LOCKED step on the store, and the retry backoff. A fix
// to retries or takeovers (where mail servers lose mail) is made here,
// once, for both.
//
// A record is claimed by an owner (a worker of one node) for a lease: the
// claim bumps the record's fence and counts an attempt. Whatever the
// owner then writes about the record is checked against its Claim (owner
// and fence) inside the same transaction: once the lease ran out and
// another owner claimed the record, the fence differs and the late owner
// writes nothing (ErrClaimLost). A claim ends one of four ways: given back
// without counting the attempt (Release, a shutdown or a wait for
// ordering), deferred after a transient failure with a next attempt
// (Defer, the wait from Backoff), set aside for good (SetAside), or done
// (End). A lease whose owner died is taken over when it expires, or at
// once when the owner is known dead (Claimer.Stale, a previous run of
// the same node); the dead owner's attempt counts.
//
// The Lease methods only change the record in memory; each package keeps
// its record's encoding (inbound's binary form, the queue's JSON) and its
// own indexes, and Table does the claim on the store for a package whose
// record is one value in one bucket.
package jobs

import (
	"errors"
	"time"
)

// Errors of claims.
var (
	// ErrNotClaimable: the record is not due yet, is leased by another
	// live owner, is gone, or another transaction holds its lock.
	ErrNotClaimable = errors.New("jobs: not claimable")
	// ErrClaimLost: the caller's claim was taken over (its lease ran out
	// and another owner claimed the record) or the record is gone; the
	// caller must write nothing about it.
	ErrClaimLost = errors.New("jobs: claim lost")
)

// Lease is the engine's part of a record: who holds it, until when, with
// which fence, how many attempts it took, when it may be tried next and
// why the last attempt failed.
//
// The JSON names are the hold queue's (its jobs are JSON, and were stored
// with these names before the engine): Until and Next are not in the JSON
// form, since the queue keeps them as the job's due time, its index.
type Lease struct {
	// Owner holds the lease ("" none).
	Owner string `json:"lease_owner,omitempty"`
	// Fence is bumped by every claim: a claim is (Owner, Fence).
	Fence uint64 `json:"fence,omitempty"`
	// Until is when the lease ends (zero: not leased, and no claim
	// holds; a claim's lease is never zero).
	Until time.Time `json:"-"`
	// Attempts counts the claims that were not given back (Release).
	Attempts int `json:"attempts"`
	// Next: no claim before it (a retry's backoff).
	Next time.Time `json:"-"`
	// Reason is why the last attempt failed (or how it ended).
	Reason string `json:"reason,omitempty"`
}

// Claim is what an owner holds of a claimed record.
type Claim struct {
	Owner string
	Fence uint64
}

// Held returns the claim the lease records now.
func (l *Lease) Held() Claim { return Claim{Owner: l.Owner, Fence: l.Fence} }

// Claimer is who claims, and for how long.
type Claimer struct {
	Owner string
	For   time.Duration // the lease
	// Stale, if set, tells whether another owner is known dead (a
	// previous run of this very node): its lease is taken over at once.
	Stale func(owner string) bool
}

// Leased tells whether the lease holds at now (an owner may be "", a
// node alone on its store).
func (l *Lease) Leased(now time.Time) bool { return now.Before(l.Until) }

// Claimable tells whether owner may claim the record at now: due (Next
// passed), and not leased by a live other owner. An owner may claim again
// what it holds.
func (l *Lease) Claimable(owner string, now time.Time, stale func(string) bool) bool {
	if now.Before(l.Next) {
		return false
	}
	if !l.Leased(now) || l.Owner == owner {
		return true
	}
	return stale != nil && stale(l.Owner)
}

// DueAt is when the record may be claimed by an owner other than its
// holder: the later of its next attempt and its lease's end.
func (l *Lease) DueAt() time.Time {
	if l.Until.After(l.Next) {
		return l.Until
	}
	return l.Next
}

// Claim leases the record to c.Owner until now+c.For with a new fence,
// counting an attempt; ErrNotClaimable if it may not be claimed now.
func (l *Lease) Claim(c Claimer, now time.Time) error {
	if c.For <= 0 {
		return errors.New("jobs: a claim needs a lease")
	}
	if !l.Claimable(c.Owner, now, c.Stale) {
		return ErrNotClaimable
	}
	l.Owner, l.Until = c.Owner, now.Add(c.For)
	l.Fence++
	l.Attempts++
	return nil
}

// Check fails with ErrClaimLost unless c is the lease's claim: the
// record is leased (expired or not: a fence that nobody bumped since is
// still good) by c.Owner with c.Fence.
func (l *Lease) Check(c Claim) error {
	if l.Until.IsZero() || l.Owner != c.Owner || l.Fence != c.Fence {
		return ErrClaimLost
	}
	return nil
}

// Renew extends the lease of claim c to now+d once less than half of d
// is left; it tells whether it did (ErrClaimLost: c is not the claim).
func (l *Lease) Renew(c Claim, now time.Time, d time.Duration) (bool, error) {
	if err := l.Check(c); err != nil {
		return false, err
	}
	if l.Until.Sub(now) > d/2 {
		return false, nil
	}
	l.Until = now.Add(d)
	return true, nil
}

// Release gives claim c back with no claim before next (zero: at once);
// the attempt does not count.
func (l *Lease) Release(c Claim, next time.Time) error {
	if err := l.Check(c); err != nil {
		return err
	}
	l.Attempts = max(l.Attempts-1, 0)
	l.free(next)
	return nil
}

// Defer ends claim c after a transient failure: no claim before next,
// the attempt counts, reason is kept.
func (l *Lease) Defer(c Claim, reason string, next time.Time) error {
	if err := l.Check(c); err != nil {
		return err
	}
	l.Abandon(reason, next)
	return nil
}

// SetAside ends claim c for good (a permanent failure): the caller moves
// the record out of the due ones.
func (l *Lease) SetAside(c Claim, reason string) error {
	if err := l.Check(c); err != nil {
		return err
	}
	l.Reason = reason
	l.free(time.Time{})
	return nil
}

// End ends claim c: the work is done (reason, if not empty, is kept).
func (l *Lease) End(c Claim, reason string) error {
	if err := l.Check(c); err != nil {
		return err
	}
	if reason != "" {
		l.Reason = reason
	}
	l.free(time.Time{})
	return nil
}

// Abandon takes the lease back from an owner known dead (crash recovery
// at start), with no claim before next; the attempt counts: it may have
// done its work before the crash.
func (l *Lease) Abandon(reason string, next time.Time) {
	l.Reason = reason
	l.free(next)
}

func (l *Lease) free(next time.Time) {
	l.Owner, l.Until, l.Next = "", time.Time{}, next
}
