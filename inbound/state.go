package inbound

import (
	"encoding/binary"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
)

// The processing state of a stored email lives in the store, never only
// in a process's memory, so that several nodes on one database (and one
// node after a crash) agree on it:
//
//   - pending (bucket inbound_pending, value State): not yet in its
//     conversation. A worker claims it by writing a lease (owner, expiry)
//     and bumping Fence; its final commit re-checks owner and fence inside
//     the same transaction (CheckClaim), so a worker whose lease was taken
//     over writes nothing. A transient failure (Defer) records the reason
//     and the next attempt; the email stays pending, tried with backoff
//     for as long as it takes.
//   - failed (bucket inbound_failed): what can never be processed as it is
//     (its stored copy is gone, the step crashed on it). It is kept, and
//     Requeue makes it pending again.
//
// Every function here only reads and writes the transaction it is given:
// store.Update may run it more than once.

// Buckets of the processing state.
const (
	bucketFailed = "inbound_failed"
	bucketOrder  = "inbound_order" // ordering key \x00 seq -> id, of pending emails
	bucketDue    = "inbound_due"   // next attempt, seq, id -> nil, of pending emails not leased
	bucketSeq    = "inbound_seq"
)

// Errors of the claim functions: the job engine's (package jobs), shared
// with the hold queue.
var (
	// ErrNotClaimable: the email is not pending, not due yet, or leased
	// by another live worker.
	ErrNotClaimable = jobs.ErrNotClaimable
	// ErrClaimLost: the caller's claim was taken over (its lease expired
	// and another worker claimed the email) or the email is no longer
	// pending; the caller must write nothing.
	ErrClaimLost = jobs.ErrClaimLost
)

// State is a pending (or failed) email's processing state. Its lease
// (owner, fence, lease end, attempts, next attempt, last failure) is the
// job engine's record, claimed, checked and ended by package jobs as the
// hold queue's jobs are.
type State struct {
	// Seq orders emails as they were answered 250 (taken in the commit
	// that stored them).
	Seq    uint64
	Stored time.Time
	Size   int64
	// Keys name what may put two emails in one conversation (OrderKeys);
	// emails sharing a key are committed in Seq order.
	Keys []string
	jobs.Lease
	// Backoff: Next is a retry's wait after a transient failure. Only
	// then does the email stop holding back the later emails of its
	// conversation (a short wait for ordering does not).
	Backoff bool
	Failed  time.Time // when it was set aside as failed
}

// pending is the table of pending emails for the job engine.
var pending = jobs.Table[State]{
	Bucket: bucketPending,
	Lock:   EmailLock,
	Get: func(tx *store.Tx, id string) (State, bool, error) {
		return getState(tx, bucketPending, id)
	},
	Put: func(tx *store.Tx, id string, st *State) error {
		return putState(tx, bucketPending, id, *st)
	},
	Lease: func(st *State) *jobs.Lease { return &st.Lease },
	// The claim's index: pending emails nobody holds, by next attempt,
	// then in the 250 order.
	Due:      bucketDue,
	Order:    func(st *State) []byte { return binary.BigEndian.AppendUint64(nil, st.Seq) },
	OrderLen: 8,
}

func getState(tx *store.Tx, bucket, id string) (State, bool, error) {
	v := tx.Get(bucket, []byte(id))
	if v == nil {
		return State{}, false, nil
	}
	var st State
	if err := decodeState(v, &st); err != nil {
		return State{}, false, fmt.Errorf("decode state of %s: %w", id, err)
	}
	return st, true, nil
}

func putState(tx *store.Tx, bucket, id string, st State) error {
	v, err := encodeState(make([]byte, 0, 64), &st)
	if err != nil {
		return err
	}
	return tx.Put(bucket, []byte(id), v)
}

// Claimable tells whether st may be claimed at now by owner (see
// jobs.Lease.Claimable).
func (st State) Claimable(owner string, now time.Time, stale func(owner string) bool) bool {
	return st.Lease.Claimable(owner, now, stale)
}

// Claim leases a pending email to owner until now+lease and returns its
// state with the new fence (jobs.Table.Claim).
//
// It takes the email's lock without waiting (SKIP LOCKED): an email that
// another node is claiming or committing right now is not claimable, and
// its state is read afresh once the lock is held.
func Claim(tx *store.Tx, id, owner string, now time.Time, lease time.Duration, stale func(string) bool) (State, error) {
	return pending.Claim(tx, id, jobs.Claimer{Owner: owner, For: lease, Stale: stale}, now,
		func(st *State) { st.Backoff = false })
}

// LockForClaim takes, in one round trip, the locks of every email in ids
// that no other transaction holds (SKIP LOCKED) and reads their states
// afresh; Claim then costs no round trip for those. It returns the ids it
// holds.
func LockForClaim(tx *store.Tx, ids []string) ([]string, error) {
	return pending.TryLock(tx, ids)
}

// EmailLock is the lock (store.Locks) of one stored email's processing
// state: claims take it.
func EmailLock(id string) string { return "email:" + id }

// CommitReads names the keys that checking id's claim and finishing it
// read (its state, its record, its ordering entries, and the entries
// before them that EarlierBlocker scans), so the store can fetch them
// with the transaction's first round trip (store.Reads, ReadsRange).
// Each ordering key is read in one range with the entries before it
// (the range ends just past it): on PostgreSQL one index descent per
// key, where a range and a read by name of the entry were two.
func CommitReads(id string, st State) []store.UpdateOption {
	opts := make([]store.UpdateOption, 0, 2+len(st.Keys))
	for _, k := range st.Keys {
		opts = append(opts, store.ReadsRange(bucketOrder, orderPrefix(k), append(orderKey(k, st.Seq), 0)))
	}
	return append(opts,
		store.Reads(bucketPending, []byte(id)),
		store.Reads(bucketMeta, []byte(id)),
	)
}

// ClaimReads names the states Claim reads for ids (store.Reads).
func ClaimReads(ids []string) store.UpdateOption {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = []byte(id)
	}
	return store.Reads(bucketPending, keys...)
}

func claimOf(owner string, fence uint64) jobs.Claim { return jobs.Claim{Owner: owner, Fence: fence} }

// CheckClaim fails with ErrClaimLost unless id is pending and still
// claimed by owner with fence.
func CheckClaim(tx *store.Tx, id, owner string, fence uint64) (State, error) {
	return pending.Check(tx, id, claimOf(owner, fence))
}

// Finish ends a claimed email's processing: it leaves the pending index.
func Finish(tx *store.Tx, id, owner string, fence uint64) error {
	st, err := CheckClaim(tx, id, owner, fence)
	if err != nil {
		return err
	}
	if err := dropOrder(tx, id, st); err != nil {
		return err
	}
	if err := pending.Unindex(tx, id, &st); err != nil {
		return err
	}
	return tx.Delete(bucketPending, []byte(id))
}

// Defer records a transient failure: the email stays pending, unclaimed,
// with no attempt before next (the claim counted the attempt).
func Defer(tx *store.Tx, id, owner string, fence uint64, reason string, next time.Time) (State, error) {
	return pending.Defer(tx, id, claimOf(owner, fence), clip(reason), next,
		func(st *State) { st.Backoff = true })
}

// Release gives a claim back without counting an attempt (shutdown, or an
// earlier email of the same conversation still to be committed).
func Release(tx *store.Tx, id, owner string, fence uint64, next time.Time) error {
	_, err := pending.Release(tx, id, claimOf(owner, fence), next,
		func(st *State) { st.Backoff = false })
	return err
}

// Fail sets a claimed email aside as failed, for good unless requeued.
func Fail(tx *store.Tx, id, owner string, fence uint64, reason string, now time.Time) error {
	st, err := CheckClaim(tx, id, owner, fence)
	if err != nil {
		return err
	}
	if err := pending.Unindex(tx, id, &st); err != nil {
		return err
	}
	if err := st.SetAside(st.Held(), clip(reason)); err != nil {
		return err
	}
	if err := dropOrder(tx, id, st); err != nil {
		return err
	}
	st.Failed = now
	if err := tx.Delete(bucketPending, []byte(id)); err != nil {
		return err
	}
	return putState(tx, bucketFailed, id, st)
}

// Requeue makes a failed email pending again, due now; a pending one is
// made due now (and its backoff forgotten). ErrNotFound: neither.
func Requeue(tx *store.Tx, id string) error {
	if st, ok, err := getState(tx, bucketPending, id); err != nil {
		return err
	} else if ok {
		before := st
		st.Next, st.Attempts, st.Backoff = time.Time{}, 0, false
		return pending.Write(tx, id, &before, &st)
	}
	st, ok, err := getState(tx, bucketFailed, id)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w: %s is neither pending nor failed", ErrNotFound, id)
	}
	st.Attempts, st.Failed, st.Next, st.Backoff = 0, time.Time{}, time.Time{}, false
	if err := tx.Delete(bucketFailed, []byte(id)); err != nil {
		return err
	}
	if err := addOrder(tx, id, st); err != nil {
		return err
	}
	return pending.Write(tx, id, nil, &st)
}

// RequeueFailed requeues every failed email and returns their IDs.
func RequeueFailed(tx *store.Tx) ([]string, error) {
	var ids []string
	if err := tx.Scan(bucketFailed, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k))
		return true, nil
	}); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := Requeue(tx, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

// Candidate is a pending email with its state.
type Candidate struct {
	ID string
	// State is the email's state as a full scan read it; an email found
	// in the due index has only its Seq (the claim reads the state).
	State State
	due   jobs.Due // its key in the due index (nil Key: found by a full scan)
	// unindexed: a Full scan found it claimable, and the due index has
	// no key of it (a lease that ran out, a previous run's, one that an
	// older deskmail wrote): a scan of the index would not have.
	unindexed bool
}

// Unindexed tells whether only a Full scan could find c (see Scan.Full):
// the caller scans in full again while the last one found such emails.
func (c Candidate) Unindexed() bool { return c.unindexed }

// Scan tunes Due.
type Scan struct {
	Owner string
	Now   time.Time
	Max   int                  // at most this many candidates
	Skip  func(id string) bool // emails to pass over without reading them
	Stale func(owner string) bool
	// Waiting, if set, is told (by a Full scan) of each email passed
	// over because it is not due (its backoff, or another worker's
	// lease) and until when, so the caller can skip it cheaply next time.
	Waiting func(id string, until time.Time)
	// LeaseEnd, if set, is told (by a Full scan) when each lease held by
	// another owner ends: such an email is not in the due index, and
	// only a Full scan at that time finds it claimable (its owner died).
	LeaseEnd func(until time.Time)
	// Full reads every pending email, as against only the due index's
	// keys of the emails due now: it finds too the leases that ran out
	// (their owner died without giving them back), those of a previous
	// run of this node (Stale), which the index does not hold, and
	// emails an older deskmail left pending without a key. A caller
	// runs one at its start and every so often (the pipeline: every
	// Rescan).
	Full bool
	// Held, if set, passes over (unless Full) an email the caller knows
	// to be held back, an earlier email of one of its ordering keys being
	// held elsewhere (see the pipeline's order notes), without reading
	// it. Unlike Skip, each counts against heldBudget: one sender's long
	// run of held emails ends the scan of the due index instead of
	// making every scan read all of its keys.
	Held func(id string) bool
}

// heldBudget is how many Held emails one scan of the due index passes
// over before it stops.
const heldBudget = 1024

// dueSlack is how many claimable emails a Full Due reads beyond s.Max
// before it keeps the s.Max first in the 250 order. Storage order (ids,
// made when a session begins its DATA) and the 250 order (sequence,
// given at the commit) differ where sessions overlap; cutting at s.Max
// in storage order would leave out an email answered 250 before one it
// keeps, and the kept one, sharing a sender with it, could then not be
// committed before it was claimed too (every later email of that sender
// waiting behind it in turn). The index's emails due at once are in the
// 250 order already; its retries come in the order of their times, and
// get the same slack.
const dueSlack = 64

// Due lists, in the order they were answered 250, up to s.Max pending
// emails s.Owner may claim at s.Now. Unless s.Full it reads only the
// due index (the database reads the keys of the emails due now, no
// state): the retries and waits that came due, then the emails due at
// once, in the 250 order, and the first next attempt still to come
// among the retries and waits (leases that run out are not in the
// index: a Full scan finds them). A Full scan reads every pending
// email's state and returns too the earliest future attempt among the
// others, leases' ends included (zero: none).
//
// A Full scan leaves out an email that shares an ordering key with an
// earlier pending one held elsewhere: leased by another live worker
// (another node), or given back to wait for an earlier email of its own
// (Release, no backoff). Its commit would wait for that one
// (EarlierBlocker) and be given back, its step done for nothing; with
// two nodes on one sender's emails, each node's claims interleaved with
// the other's and most of both nodes' work was thrown away. Such holders
// are not reported to s.Waiting (the caller would pass over them unread,
// and then not know their keys). The due index's scan reads no state and
// cannot do this: the pipeline makes the same check at the claim, which
// reads each state (ClaimCandidateUnless), from what its commits learnt
// (EarlierBlocker, HoldsBack), and passes over unread what it left
// (Scan.Held).
func Due(tx *store.Tx, s Scan) ([]Candidate, time.Time, error) {
	if s.Full {
		return dueFull(tx, s)
	}
	var out []Candidate
	passed := 0
	add := func(limit int) func(d jobs.Due) (bool, error) {
		n := 0
		return func(d jobs.Due) (bool, error) {
			if s.Skip != nil && s.Skip(d.ID) {
				return true, nil
			}
			if s.Held != nil && s.Held(d.ID) {
				passed++
				return passed < heldBudget, nil
			}
			out = append(out, Candidate{ID: d.ID, State: State{Seq: binary.BigEndian.Uint64(d.Order)}, due: d})
			n++
			return n < limit, nil
		}
	}
	next, err := pending.ScanDueTimed(tx, s.Now, add(s.Max+dueSlack))
	if err != nil {
		return nil, time.Time{}, err
	}
	if err := pending.ScanDueNow(tx, add(s.Max)); err != nil {
		return nil, time.Time{}, err
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].State.Seq < out[j].State.Seq })
	if len(out) > s.Max {
		out = out[:s.Max]
	}
	return out, next, nil
}

func dueFull(tx *store.Tx, s Scan) ([]Candidate, time.Time, error) {
	var out []Candidate
	var next time.Time
	var held map[string]uint64 // ordering key -> Seq of its first email held elsewhere
	indexed := map[string]bool{}
	if err := tx.Scan(bucketDue, nil, func(k, _ []byte) (bool, error) {
		if len(k) > 16 {
			indexed[string(k[16:])] = true
		}
		return true, nil
	}); err != nil {
		return nil, time.Time{}, err
	}
	err := tx.Scan(bucketPending, nil, func(k, v []byte) (bool, error) {
		id := string(k)
		skip := s.Skip != nil && s.Skip(id)
		if skip && s.LeaseEnd == nil {
			return true, nil
		}
		var st State
		if err := decodeState(v, &st); err != nil {
			return false, fmt.Errorf("decode state of %s: %w", id, err)
		}
		if skip {
			// Passed over (the caller noted it), but another owner's
			// lease on it still says when the next full scan is due: a
			// scan that forgot it would leave a dead node's email until
			// the Rescan.
			if st.Leased(s.Now) && st.Owner != s.Owner {
				s.LeaseEnd(st.DueAt())
			}
			return true, nil
		}
		if st.Claimable(s.Owner, s.Now, s.Stale) {
			if heldBefore(held, st) {
				return true, nil // not counted: the scan goes on for others
			}
			out = append(out, Candidate{ID: id, State: st, unindexed: !indexed[id]})
			return len(out) < s.Max+dueSlack, nil
		}
		elsewhere := st.Leased(s.Now) && st.Owner != s.Owner || !st.Backoff && s.Now.Before(st.Next)
		if elsewhere {
			if held == nil {
				held = map[string]uint64{}
			}
			for _, k := range st.Keys {
				if first, ok := held[k]; !ok || st.Seq < first {
					held[k] = st.Seq
				}
			}
		}
		at := st.DueAt()
		if at.After(s.Now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			if s.Waiting != nil && !elsewhere {
				s.Waiting(id, at)
			}
			if s.LeaseEnd != nil && st.Leased(s.Now) {
				s.LeaseEnd(at)
			}
		}
		return true, nil
	})
	if held != nil {
		// Holders found after their later emails (storage order is not
		// the 250 order).
		out = slices.DeleteFunc(out, func(c Candidate) bool { return heldBefore(held, c.State) })
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].State.Seq < out[j].State.Seq })
	if len(out) > s.Max {
		out = out[:s.Max]
	}
	return out, next, err
}

// heldBefore tells whether one of st's ordering keys has a pending email
// numbered before it that is held elsewhere (Due's held).
func heldBefore(held map[string]uint64, st State) bool {
	for _, k := range st.Keys {
		if first, ok := held[k]; ok && first < st.Seq {
			return true
		}
	}
	return false
}

// ClaimCandidate claims an email that Due listed, as Claim does; one
// found in the due index whose key no longer matches its state (another
// node claimed it since the scan's snapshot, or an older deskmail wrote
// it) has its key put right. An email for which hold, given its state as
// read under its lock, returns true is not claimed (ErrNotClaimable,
// nothing written but that repair): the pipeline's check that no earlier
// email of its ordering keys is held elsewhere, which the due index's
// scan, reading no state, cannot make.
func ClaimCandidate(tx *store.Tx, c Candidate, owner string, now time.Time, lease time.Duration, stale func(string) bool, hold func(id string, st State) bool) (State, error) {
	d := c.due
	if d.Key == nil {
		d = jobs.Due{ID: c.ID} // found by a Full scan: no key to put right
	}
	return pending.ClaimDueUnless(tx, d, jobs.Claimer{Owner: owner, For: lease, Stale: stale}, now,
		func(st *State) bool { return hold != nil && hold(c.ID, *st) },
		func(st *State) { st.Backoff = false })
}

// OrderHold is how long an email that hit a transient failure still holds
// back the later emails of its conversation while it waits out its
// backoff: order is kept through a short trouble (a disk full for a
// moment), but an email that cannot go through for long (its sender's DNS
// down for hours) does not stop its conversation; it is appended when it
// goes through.
const OrderHold = 2 * time.Minute

// Blocker is an earlier pending email that holds back a later one of
// the same ordering key (EarlierBlocker).
type Blocker struct {
	ID    string    // "" for none
	Key   string    // the ordering key they share
	Seq   uint64    // its place in the 250 order
	Until time.Time // its next attempt, when it waits out a backoff
}

// EarlierBlocker returns an email that shares an ordering key with id,
// was answered 250 before it, and is still pending, and until when to
// wait for it at least (its next attempt, when it waits out a backoff);
// a zero ID when id may be committed now. An earlier email waiting out a
// backoff more than OrderHold after its 250 no longer holds id back. This
// is what keeps the order of a conversation when several workers, or
// several nodes, work at once: the in-process sequencer makes the wait
// rare, this check makes it certain. It tells too which key the two
// emails share and the earlier one's Seq: the pipeline notes it, so that
// its claims pass over that key's later emails while another owner holds
// the earlier one (HoldsBack).
func EarlierBlocker(tx *store.Tx, id string, st State, now time.Time) (Blocker, error) {
	for _, key := range st.Keys {
		prefix := orderPrefix(key)
		var b Blocker
		// Only this key's entries numbered below st.Seq: the range ends
		// there, so the database reads no other key's; on PostgreSQL
		// read with the commit's first round trip (CommitReads).
		err := tx.ScanRange(bucketOrder, prefix, orderKey(key, st.Seq), func(k, v []byte) (bool, error) {
			if !strings.HasPrefix(string(k), string(prefix)) || len(k) != len(prefix)+8 {
				return false, nil
			}
			seq := binary.BigEndian.Uint64(k[len(prefix):])
			if seq >= st.Seq {
				return false, nil
			}
			other := string(v)
			if other == id {
				return true, nil
			}
			ost, found, err := getState(tx, bucketPending, other)
			if err != nil || !found {
				return err == nil, err
			}
			waiting := ost.Backoff && now.Before(ost.Next)
			if waiting && (ost.Stored.IsZero() || now.Sub(ost.Stored) >= OrderHold) {
				return true, nil
			}
			b = Blocker{ID: other, Key: key, Seq: seq}
			if waiting {
				b.Until = ost.Next
			}
			return false, nil
		})
		if err != nil || b.ID != "" {
			return b, err
		}
	}
	return Blocker{}, nil
}

// HoldsBack tells until when pending email id holds back, for owner's
// claims, the later emails of its ordering keys (zero: it does not): it
// is leased by another live owner (until its lease ends), given back to
// wait for an earlier email of its own (until its next attempt), or
// waits out a backoff that still holds its conversation (OrderHold). An
// email that is no longer pending, that anyone may claim now, or that
// owner holds (its own sequencer orders the key) holds nothing back.
// One read of id's state.
func HoldsBack(tx *store.Tx, id, owner string, now time.Time, stale func(string) bool) (time.Time, error) {
	st, found, err := getState(tx, bucketPending, id)
	if err != nil || !found {
		return time.Time{}, err
	}
	if st.Leased(now) {
		if st.Owner == owner || stale != nil && stale(st.Owner) {
			return time.Time{}, nil
		}
		return st.Until, nil
	}
	if !now.Before(st.Next) {
		return time.Time{}, nil
	}
	if st.Backoff && (st.Stored.IsZero() || now.Sub(st.Stored) >= OrderHold) {
		return time.Time{}, nil
	}
	return st.Next, nil
}

// orderPrefix is where the entries of ordering key k begin.
func orderPrefix(k string) []byte { return append([]byte(k), 0) }

func orderKey(k string, seq uint64) []byte {
	b := make([]byte, len(k)+1+8)
	copy(b, k)
	binary.BigEndian.PutUint64(b[len(k)+1:], seq)
	return b
}

func addOrder(tx *store.Tx, id string, st State) error {
	for _, k := range st.Keys {
		if err := tx.Put(bucketOrder, orderKey(k, st.Seq), []byte(id)); err != nil {
			return err
		}
	}
	return nil
}

func dropOrder(tx *store.Tx, id string, st State) error {
	for _, k := range st.Keys {
		key := orderKey(k, st.Seq)
		if string(tx.Get(bucketOrder, key)) == id {
			if err := tx.Delete(bucketOrder, key); err != nil {
				return err
			}
		}
	}
	return nil
}

// newPending is the state of a newly stored email, written by Receive.
func newPending(tx *store.Tx, id string, size int64, keys []string, now time.Time) error {
	seq, err := tx.Sequence(bucketSeq)
	if err != nil {
		return err
	}
	st := State{Seq: seq, Stored: now, Size: size, Keys: keys}
	// A fresh id (an accept's store.NewID) and a fresh sequence number:
	// its state, order and due keys are new (on PostgreSQL plain
	// INSERTs, not upserts).
	tx.Absent(bucketPending, []byte(id))
	tx.Absent(pending.Due, pending.DueKey(id, &st))
	for _, k := range st.Keys {
		tx.Absent(bucketOrder, orderKey(k, st.Seq))
	}
	if err := addOrder(tx, id, st); err != nil {
		return err
	}
	return pending.Write(tx, id, nil, &st)
}

func init() { store.KnownSequences(bucketSeq) }
