package queue

import (
	"bytes"
	"slices"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// Defaults of Queue.
const (
	DefaultHold          = 60 * time.Second
	DefaultMaxAge        = 5 * 24 * time.Hour
	DefaultLease         = 10 * time.Minute
	DefaultSuppressAfter = 2
	// DefaultTransientSuppressAfter transient failures (4.x.x, a full
	// mailbox) of one address within DefaultTransientWindow suppress it.
	DefaultTransientSuppressAfter = 5
	DefaultTransientWindow        = 7 * 24 * time.Hour
)

// Queue is the hold queue. Its methods that take a *store.Tx only touch
// the transaction, so they may run inside another package's commit (and be
// run again when the store retries a batch).
type Queue struct {
	Clock clock.Clock
	// HoldFor is how long a notification waits for a seen-ack (SPEC
	// section 4; default 60s).
	HoldFor time.Duration
	// MaxAge is how long a job is retried after it was created before it
	// is failed (default 5 days, as RFC 5321 §4.5.4.1 suggests "at least
	// 4-5 days").
	MaxAge time.Duration
	// LeaseFor is how long a sender owns a job (default 10m, more than an
	// SMTP transaction's timeouts). A job whose lease expires is due again.
	LeaseFor time.Duration
	// Backoff is the retry schedule of emails (zero value: DefaultBackoff).
	Backoff Backoff
	// KindBackoff is the retry schedule of the other kinds of job; a kind
	// not in it uses Backoff.
	KindBackoff map[Kind]Backoff
	// SuppressAfter is the number of hard bounces to one address that
	// suppress it (default 2).
	SuppressAfter int
	// TransientSuppressAfter is the number of transient failures
	// (transient, mailbox full) of one address within TransientWindow
	// that suppress it (default 5 in 7 days): one full mailbox or a
	// greylisting server says little, the same failure for a week says
	// the address is dead.
	TransientSuppressAfter int
	TransientWindow        time.Duration
	// RecipientCap bounds the notification emails to one external
	// address per hour (loopguard.RecipientCap); zero Max: no cap.
	RecipientCap loopguard.RecipientCap
	// Owner names this node when several share the store: its leases
	// carry it, so a restarted node gives back its own leases at once
	// (ReleaseOwn) and leaves the other nodes' alone. Empty on bbolt.
	Owner string
}

func (q *Queue) holdFor() time.Duration  { return orDefault(q.HoldFor, DefaultHold) }
func (q *Queue) maxAge() time.Duration   { return orDefault(q.MaxAge, DefaultMaxAge) }
func (q *Queue) leaseFor() time.Duration { return orDefault(q.LeaseFor, DefaultLease) }
func (q *Queue) suppressAfter() int {
	if q.SuppressAfter > 0 {
		return q.SuppressAfter
	}
	return DefaultSuppressAfter
}

func (q *Queue) transientSuppressAfter() int {
	if q.TransientSuppressAfter > 0 {
		return q.TransientSuppressAfter
	}
	return DefaultTransientSuppressAfter
}

func (q *Queue) transientWindow() time.Duration {
	return orDefault(q.TransientWindow, DefaultTransientWindow)
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// Hold is messaging.Service's OnNotify hook: the notification n creates
// the held email of (n.Person, n.Conversation), or joins the one whose hold
// is running, so several messages within one hold become one email. The
// hold runs from the first notification; joining does not extend it, so a
// busy conversation still emails after HoldFor.
//
// The (person, conversation) index and a job while it is held are the
// conversation's (model.ConvLock): the commit that holds takes it, a
// lease that ends a hold takes it (lockHoldEnd), a seen-ack takes it
// shared; completions and renewals only touch jobs that are sending.
func (q *Queue) Hold(tx *store.Tx, n model.Notification) error {
	tx.Need(model.ConvLock(n.Conversation))
	now := n.Created
	if now.IsZero() {
		now = q.Clock.Now()
	}
	if id := tx.Get(bHeld, pairKey(n.Person, n.Conversation)); id != nil {
		j, err := GetJob(tx, string(id))
		if err != nil {
			return err
		}
		if j.State == StateHeld {
			if !slices.Contains(j.Messages, n.Message) {
				j.Messages = append(j.Messages, n.Message)
			}
			if err := putJSON(tx, bDelivery, pairKey(n.Message, n.Person), Delivery{Job: j.ID}); err != nil {
				return err
			}
			return saveJob(tx, &j, now)
		}
	}
	j := Job{ID: store.NewID(now), Kind: KindEmail, Person: n.Person, Conversation: n.Conversation,
		Messages: []string{n.Message}, State: StateHeld, Created: now, noLease: true}
	// A fresh id: its record and due key are new (plain INSERTs on
	// PostgreSQL, no upserts), and it has no lease key to delete.
	tx.Absent(bJobs, []byte(j.ID))
	tx.Absent(bDue, dueKey(now.Add(q.holdFor()), j.ID))
	if p, err := model.GetPerson(tx, n.Person); err == nil && len(p.Emails) > 0 {
		j.To = p.Emails[0]
	}
	if c, err := model.GetConversation(tx, n.Conversation); err == nil {
		j.Subject = threading.ThreadSubject(c.Subject, c.Tag)
	}
	if err := setDue(tx, &j, now.Add(q.holdFor())); err != nil {
		return err
	}
	if err := tx.Put(bHeld, pairKey(n.Person, n.Conversation), []byte(j.ID)); err != nil {
		return err
	}
	if err := putJSON(tx, bDelivery, pairKey(n.Message, n.Person), Delivery{Job: j.ID}); err != nil {
		return err
	}
	if err := saveJob(tx, &j, now); err != nil {
		return err
	}
	next := j.Due
	return q.journal(tx, &j, journal.StatusHeld, "", &next, now)
}

// SeenPlan is messaging.Service's SeenPlan hook: the ack's snapshot
// reads which email of (person, conv) is held, and the commit declares
// what seenAckOf then reads, so that it costs no round trip of its own: the
// job's record and, when the ack may cancel the job, what cancelling
// appends to the journal (a sequence value and the journal's last key).
// It needs no lock of the job: under the conversation's lock (shared,
// messaging.SeenLocks) a held email is changed by no one else.
//
// The held index is not read again in the commit (seenAckOf): the job
// the snapshot found is read under the commit's locks, and if it is still
// held it is the one the index names (a job is held only from the commit
// that makes it and names it in the index, the index moves to another
// job only when the one it names is no longer held, and no job is held
// again). A message the ack marks was notified before its snapshot, so
// the only held email that can hold it is the one the snapshot found:
// when that one is no longer held, or the snapshot found none, the ack
// has no held email to change (TestSeenAckPlanGoneStale).
//
// An ack cannot cancel a job one of whose messages it does not mark: when
// the job's record this node last wrote (decodedJobs) holds a message not
// among those the ack found pending, the journal's reads (and the held
// index's entry, which only cancelling touches) are not declared. They
// cost a statement and an index read per commit on PostgreSQL (a
// sequence drawn, the journal's last key), for acks of
// which most shrink a held email without emptying it. Should the record
// have changed meanwhile (another node's ack shrank it) and the ack
// cancel it after all, the commit draws and reads them itself: a round
// trip more, the same journal entry.
func (q *Queue) SeenPlan(person, conv string) (store.Query, func([]store.KV, []string) messaging.SeenCommit) {
	held := pairKey(person, conv)
	return store.Get(bHeld, held), func(found []store.KV, pending []string) messaging.SeenCommit {
		if len(found) == 0 || len(found[0].Value) == 0 {
			// Nothing held as of the snapshot: nothing the ack marks is.
			return messaging.SeenCommit{OnSeen: func(*store.Tx, []string) error { return nil }}
		}
		id := found[0].Value
		c := messaging.SeenCommit{
			Opts:   []store.UpdateOption{store.Reads(bJobs, id)},
			OnSeen: func(tx *store.Tx, marked []string) error { return q.seenAckOf(tx, person, id, marked) },
		}
		if !decodedJobs.keepsOthers(string(id), pending) {
			// It may cancel the job: the journal's reads, and the held
			// index's entry, which cancelling deletes (dropHold).
			c.Opts = append(c.Opts, store.Reads(bHeld, held))
			c.Opts = append(c.Opts, journal.AppendReads()...)
		}
		return c
	}
}

// SeenAck is messaging.Service's OnSeen hook: person saw the messages
// marked (newly marked seen by model.MarkSeen) of conv. They leave the
// held email; an email left with no message is cancelled, journaled
// "cancelled (seen)". An email already being sent is not changed: the ack
// is recorded by MarkSeen and nothing else happens (SPEC section 4).
// An ack planned by SeenPlan runs seenAckOf instead, with the held email
// its snapshot found.
func (q *Queue) SeenAck(tx *store.Tx, person, conv string, marked []string) error {
	if len(marked) == 0 {
		return nil
	}
	// The caller holds the conversation's lock shared (messaging.SeenLocks)
	// and the person's seen lock: no commit adds to the held email and no
	// lease ends its hold meanwhile (both take the conversation's lock
	// alone), and a job in the index is held, never sending, so no
	// completion or renewal touches it. No further lock is taken, none
	// is waited for after the transaction began.
	id := tx.Get(bHeld, pairKey(person, conv))
	if id == nil {
		return nil
	}
	return q.seenAckOf(tx, person, id, marked)
}

// seenAckOf is SeenAck of the job id, the held email of (person, conv)
// if it is held still: a job not held is left alone.
func (q *Queue) seenAckOf(tx *store.Tx, person string, id []byte, marked []string) error {
	if len(marked) == 0 {
		return nil
	}
	raw := tx.Get(bJobs, id)
	if raw == nil {
		return nil // pruned: not held
	}
	j, ok := decodedJobs.get(string(id), raw)
	if !ok {
		var err error
		if j, err = decodeJob(string(id), raw); err != nil {
			return err
		}
	}
	if j.State != StateHeld {
		return nil
	}
	now := q.Clock.Now()
	keep := j.Messages[:0:0]
	for _, m := range j.Messages {
		if slices.Contains(marked, m) {
			// A message of a held job has its delivery record (Hold
			// writes it with the message; only the job's pruning,
			// once final, deletes it): an update, not an upsert.
			k := pairKey(m, person)
			tx.Present(bDelivery, k)
			if err := putJSON(tx, bDelivery, k, Delivery{Job: j.ID, Status: "cancelled (seen)"}); err != nil {
				return err
			}
			j.Dropped = append(j.Dropped, m)
			continue
		}
		keep = append(keep, m)
	}
	if len(keep) == len(j.Messages) {
		return nil
	}
	j.Messages = keep
	if len(keep) > 0 {
		if err := saveJob(tx, &j, now); err != nil {
			return err
		}
		// The record written and the job it encodes, for the next ack
		// of this held email: as GetJob would decode it (the lease's
		// times from Due). Its lists are this call's own, not cloned
		// again: Messages is keep, built here; Dropped came from
		// decodeJob or from the copy decodedJobs.get made, and this call
		// returns now, so nothing else holds either
		// (TestAckChangesNoJobKeptBefore).
		j.dueToLease()
		decodedJobs.keep(j.ID, bytes.Clone(tx.Get(bJobs, []byte(j.ID))), &j)
		return nil
	}
	decodedJobs.forget(j.ID)
	return q.cancel(tx, &j, "seen", now)
}

// cancel ends a live job unsent.
func (q *Queue) cancel(tx *store.Tx, j *Job, reason string, now time.Time) error {
	j.State, j.Reason = StateCancelled, reason
	if err := saveJob(tx, j, now); err != nil {
		return err
	}
	return q.journal(tx, j, journal.StatusCancelled, reason, nil, now)
}

// journal appends an email's new status to the outgoing log. Jobs of
// other kinds are not journaled: the log of outgoing email is about email
// (`deskmail log --direction out`, the delivery view); their state, attempts
// and last error are in the job (`deskmail queue show`) and the daemon's log.
func (q *Queue) journal(tx *store.Tx, j *Job, status, reason string, next *time.Time, now time.Time) error {
	if j.Kind != KindEmail {
		return nil
	}
	e := journal.Entry{Time: now, Direction: journal.Out, Status: status, Reason: reason,
		MessageID: j.MessageID, EnvelopeFrom: j.From, Subject: j.Subject,
		Job: j.ID, Person: j.Person, Conversation: j.Conversation,
		Messages: slices.Clone(j.Messages), NextAttempt: next}
	if j.To != "" {
		e.EnvelopeTo = []string{j.To}
	}
	return journal.Append(tx, &e)
}
