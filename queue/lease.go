package queue

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
	"github.com/deskmail/deskmail/threading"
)

// Composer writes the email of a job whose hold has ended. It runs in the
// lease transaction, so what it reads (messages, names, the conversation's
// thread root) is the same snapshot the re-check saw. It sets j.From (the
// VERP envelope sender), j.MessageID and j.Subject, and may write to tx
// (the Message-ID index, a new thread root).
type Composer interface {
	Compose(tx *store.Tx, j *Job, now time.Time) ([]byte, error)
}

// Lease is a job handed to a sender until Job.Due, with its email. Its
// claim (Job.Held(): owner and fence) is what Complete and Renew check.
type Lease struct {
	Job  Job
	Body []byte
}

// jobTable is the hold queue's jobs for the job engine's SKIP LOCKED
// step (TryLock). Its Get, Put and Lease are unset: a job's writes also
// move its due key and its leases entry (setDue, saveJob), so Lease,
// Renew and Complete apply the engine's transitions (jobs.Lease) to the
// job themselves.
var jobTable = jobs.Table[Job]{Bucket: bJobs, Lock: JobLock}

// Lease hands out at most max jobs due at now. A held job is re-checked
// first (SPEC section 4): messages retracted or deleted, seen, or no longer
// notified to the person (settings, following, a conversation turned
// internal) are dropped, and a job left empty is cancelled. Each leased job
// moves to StateSending with its due key at the lease's end, so a sender
// that dies leaves the job due again when the lease expires.
func (q *Queue) Lease(tx *store.Tx, now time.Time, max int, c Composer) ([]Lease, error) {
	limit := dueKey(now, "\xff")
	var ids []string
	err := tx.Scan(bDue, nil, func(k, _ []byte) (bool, error) {
		if bytes.Compare(k, limit) > 0 {
			return false, nil
		}
		ids = append(ids, string(k[8:]))
		return len(ids) < max, nil
	})
	if err != nil {
		return nil, err
	}
	// SKIP LOCKED: a job another node (or batch) is leasing, completing
	// or shrinking now is left to it; read afresh once locked, it may no
	// longer be due. One round trip for every candidate.
	held, err := jobTable.TryLock(tx, ids)
	if err != nil {
		return nil, err
	}
	claimer := jobs.Claimer{Owner: q.Owner, For: q.leaseFor()}
	var out []Lease
	for _, id := range held {
		j, err := GetJob(tx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !j.State.Live() || j.Due.After(now) || !j.Claimable(claimer.Owner, now, nil) {
			continue
		}
		if j.State == StateHeld {
			if got, err := q.lockHoldEnd(tx, &j); err != nil || !got {
				if err != nil {
					return nil, err
				}
				continue
			}
		}
		var body []byte
		switch {
		case j.State == StateHeld:
			var ok bool
			if body, ok, err = q.endHold(tx, &j, now, c); err != nil || !ok {
				if err != nil {
					return nil, fmt.Errorf("job %s: %w", id, err)
				}
				continue
			}
		case now.Sub(j.Created) > q.maxAge():
			if err := q.fail(tx, &j, "no success within "+q.maxAge().String()+": "+j.Reason, now); err != nil {
				return nil, err
			}
			continue
		default:
			if body = bytes.Clone(tx.Get(bBodies, []byte(j.ID))); body == nil {
				if err := q.fail(tx, &j, "the job's "+bodyName(j.Kind)+" is missing", now); err != nil {
					return nil, err
				}
				continue
			}
		}
		if err := j.Claim(claimer, now); err != nil {
			return nil, err // Claimable above: cannot happen
		}
		j.State = StateSending
		if err := setDue(tx, &j, j.Until); err != nil {
			return nil, err
		}
		if err := saveJob(tx, &j, now); err != nil {
			return nil, err
		}
		if err := q.journal(tx, &j, journal.StatusSending, fmt.Sprintf("attempt %d", j.Attempts), nil, now); err != nil {
			return nil, err
		}
		out = append(out, Lease{Job: j, Body: body})
	}
	return out, nil
}

// JobLock is the lock (store.Locks) of one job: its lease, completion,
// renewal and a seen-ack that shrinks it take turns on it.
func JobLock(id string) string { return "job:" + id }

// AddressLock is the lock of one recipient address's counters (hard
// bounces, the per-recipient cap on automatic emails): model.AddressLock.
func AddressLock(addr string) string { return model.AddressLock(addr) }

// lockHoldEnd takes, without waiting, the locks that ending j's hold
// needs beyond the job's own before anything is written: its
// conversation's (model.ConvLock: the held email and its index entry,
// which a commit of the conversation may be adding to, the thread root
// Compose may set) and the recipient's cap counter (for people who are
// not users). false: another transaction holds one of them (a commit or
// seen-ack of the conversation); the job stays due for the next round.
func (q *Queue) lockHoldEnd(tx *store.Tx, j *Job) (bool, error) {
	if j.Conversation != "" {
		if got, err := tx.TryLock(model.ConvLock(j.Conversation)); err != nil || !got {
			return false, err
		}
	}
	p, err := model.GetPerson(tx, j.Person)
	if err != nil || len(p.Emails) == 0 || p.Kind == notify.KindUser {
		return true, nil // endHold cancels it, or no counter is kept
	}
	return tx.TryLock(AddressLock(p.Emails[0]))
}

// Renew extends the lease of job id, if claim c still holds it and less
// than half of it is left, to a full lease from now (jobs.Lease.Renew). A
// lease already lost (expired and handed out again, or finished) is left
// alone.
func (q *Queue) Renew(tx *store.Tx, id string, c jobs.Claim, now time.Time) error {
	j, err := GetJob(tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if j.State != StateSending {
		return nil
	}
	renewed, err := j.Lease.Renew(c, now, q.leaseFor())
	if err != nil || !renewed {
		return nil // lost: the job is another sender's, or done
	}
	if err := setDue(tx, &j, j.Until); err != nil {
		return err
	}
	return saveJob(tx, &j, now)
}

func bodyName(k Kind) string {
	if k == KindEmail {
		return "composed email"
	}
	return "payload"
}

// endHold re-checks a job whose hold ended and composes its email; ok is
// false when nothing is left to send (the job was cancelled or suppressed).
func (q *Queue) endHold(tx *store.Tx, j *Job, now time.Time, c Composer) (body []byte, ok bool, err error) {
	if err := dropHold(tx, j); err != nil {
		return nil, false, err
	}
	keep := j.Messages[:0:0]
	var reasons []string
	for _, m := range j.Messages {
		reason, err := stillNotified(tx, j.Person, m)
		if err != nil {
			return nil, false, err
		}
		if reason == "" {
			keep = append(keep, m)
			continue
		}
		j.Dropped = append(j.Dropped, m)
		if !slices.Contains(reasons, reason) {
			reasons = append(reasons, reason)
		}
		if err := putJSON(tx, bDelivery, pairKey(m, j.Person), Delivery{Job: j.ID, Status: "cancelled (" + reason + ")"}); err != nil {
			return nil, false, err
		}
	}
	j.Messages = keep
	if len(keep) == 0 {
		reason := "nothing left to send"
		if len(reasons) == 1 {
			reason = reasons[0]
		}
		return nil, false, q.cancel(tx, j, reason, now)
	}
	if !templates.Enabled(tx, templates.NotificationName) {
		return nil, false, q.cancel(tx, j, "the notification email is switched off", now)
	}
	p, err := model.GetPerson(tx, j.Person)
	if err != nil || len(p.Emails) == 0 {
		return nil, false, q.cancel(tx, j, "no email address", now)
	}
	j.To = p.Emails[0]
	if Suppressed(tx, j.To) {
		j.State, j.Reason = StateSuppressed, "address suppressed after hard bounces"
		if err := saveJob(tx, j, now); err != nil {
			return nil, false, err
		}
		return nil, false, q.journal(tx, j, journal.StatusSuppressed, j.Reason, nil, now)
	}
	if ok, why, err := allowRecipient(tx, q.RecipientCap, p.Kind, j.To, "", now); err != nil || !ok {
		if err != nil {
			return nil, false, err
		}
		return nil, false, q.cancel(tx, j, why, now)
	}
	if body, err = c.Compose(tx, j, now); err != nil {
		return nil, false, fmt.Errorf("compose: %w", err)
	}
	if err := tx.Put(bBodies, []byte(j.ID), body); err != nil {
		return nil, false, err
	}
	if j.MessageID != "" {
		if err := tx.Put(bMsgIDs, []byte(threading.CanonicalMessageID(j.MessageID)), []byte(j.ID)); err != nil {
			return nil, false, err
		}
	}
	return body, true, nil
}

// stillNotified tells why message msg should no longer be emailed to
// person, or "" if it should.
func stillNotified(tx *store.Tx, person, msg string) (string, error) {
	m, err := model.GetMessage(tx, msg)
	if errors.Is(err, model.ErrNotFound) {
		return "deleted", nil
	}
	if err != nil {
		return "", err
	}
	if m.Retracted != nil {
		return "retracted", nil
	}
	n, err := model.GetNotification(tx, person, msg)
	if errors.Is(err, model.ErrNotFound) {
		return "notification removed", nil
	}
	if err != nil {
		return "", err
	}
	if n.Seen != nil {
		return "seen", nil
	}
	// Run the recipient rules again on today's settings and followers: a
	// user who changed a setting during the hold, or a customer whose
	// conversation was turned internal, drops out here.
	rs, err := notify.Recipients(notify.Message{ID: m.ID, AuthorID: m.Author, ConversationID: m.Conversation}, model.View{Tx: tx})
	switch {
	case errors.Is(err, notify.ErrCustomerInInternal):
		return "conversation internal", nil
	case errors.Is(err, notify.ErrNotFound):
		return "deleted", nil
	case err != nil:
		return "", err
	}
	for _, r := range rs {
		if r.PersonID == person {
			return withheld(tx, m, r)
		}
	}
	if c, err := model.GetConversation(tx, m.Conversation); err == nil && c.Kind == model.Internal {
		return "conversation internal", nil
	}
	return "no longer a recipient", nil
}

// ReleaseStale makes every job leased by an earlier run due now: the
// daemon holds the store's lock, so no sender of that run is alive. Run
// at start, before the worker, it saves waiting out LeaseFor after a
// crash. Those emails may have been delivered just before the crash; they
// are sent again (with the same Message-ID), which is the one duplicate a
// crash can cause.
func (q *Queue) ReleaseStale(tx *store.Tx, now time.Time) (int, error) {
	return q.release(tx, now, func(Job) bool { return true })
}

// ReleaseOwn is ReleaseStale on a store that other nodes share: only the
// leases this node (Owner) took before it stopped, and leases with no
// owner (left by a single-node daemon before its store was copied), are
// released; another node's lease may be a delivery in flight and is left
// to expire.
func (q *Queue) ReleaseOwn(tx *store.Tx, now time.Time) (int, error) {
	return q.release(tx, now, func(j Job) bool { return j.Owner == "" || j.Owner == q.Owner })
}

func (q *Queue) release(tx *store.Tx, now time.Time, mine func(Job) bool) (int, error) {
	var stale []string
	err := tx.Scan(bLeases, nil, func(k, _ []byte) (bool, error) {
		stale = append(stale, string(k))
		return true, nil
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range stale {
		j, err := GetJob(tx, id)
		if err != nil {
			return 0, err
		}
		if !mine(j) {
			continue
		}
		n++
		j.Abandon("sender stopped during the attempt", now)
		j.State = StateQueued
		if err := setDue(tx, &j, now); err != nil {
			return 0, err
		}
		if err := saveJob(tx, &j, now); err != nil {
			return 0, err
		}
	}
	return n, nil
}
