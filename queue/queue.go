// Package queue is the durable hold queue of outgoing email (SPEC section
// 4): a notification starts a hold; when the hold ends unseen, one email
// goes to the recipient listing every message of the conversation that is
// still unseen; a seen-acknowledgement shrinks or cancels the held email.
//
// A Job is one email to one person about one conversation, or, for a job
// of another Kind (KindWebhook), one payload for that kind's Sender (see
// kind.go): the due index, leases, backoff, max age and the admin commands
// are the same for every kind; the hold, the re-checks, suppression and the
// outgoing log are email's alone. Every job that
// is not finished has exactly one key in the due index, (due time, job ID),
// so the worker finds due jobs with one cursor seek: a held job is due when
// its hold ends, a deferred job when its next attempt is, and a job being
// sent when its lease expires (a sender that crashed mid-send leaves a job
// that becomes due again on its own).
//
// Everything happens in the caller's store transaction: Hold and SeenAck run
// inside the commit of messaging.Post and messaging.Service.Seen, and Lease
// re-checks a held job (retracted message, changed settings, conversation
// turned internal) in the same transaction that hands it to a sender.
//
// Buckets, all keyed by strings:
//
//	queue_jobs       job ID -> Job (JSON)
//	queue_due        8-byte big-endian due time + job ID -> nil
//	queue_held       person \x00 conversation -> job ID of the open hold
//	queue_delivery   message \x00 person -> Delivery (what became of that notification)
//	queue_bodies     job ID -> the composed email (or a webhook's payload), kept while it may be retried
//	queue_msgids     Message-ID -> job ID (to tie a bounce to its email)
//	queue_bounces    address -> Suppression (hard-bounce count, suppressed or not)
//	queue_leases     job ID -> nil, for the jobs in StateSending (crash recovery)
package queue

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
)

const (
	bJobs     = "queue_jobs"
	bDue      = "queue_due"
	bHeld     = "queue_held"
	bDelivery = "queue_delivery"
	bBodies   = "queue_bodies"
	bMsgIDs   = "queue_msgids"
	bBounces  = "queue_bounces"
	bLeases   = "queue_leases"
)

// ErrNotFound is returned for an unknown job.
var ErrNotFound = errors.New("queue: no such job")

// State is where a job is in its life.
type State string

// Job states. Held, Queued and Sending are live (the job has a due key);
// the others are final.
const (
	StateHeld       State = "held"       // the hold has not ended
	StateQueued     State = "queued"     // waiting for a retry (or an operator's retry)
	StateSending    State = "sending"    // leased by a sender until Due
	StateSent       State = "sent"       // accepted by the next hop
	StateCaptured   State = "captured"   // written to the capture folder
	StateCancelled  State = "cancelled"  // not sent: Reason says why
	StateFailed     State = "failed"     // permanent failure or too old
	StateBounced    State = "bounced"    // sent, then a DSN came back
	StateSuppressed State = "suppressed" // the address is suppressed
)

// Live reports whether the job may still be sent.
func (s State) Live() bool { return s == StateHeld || s == StateQueued || s == StateSending }

// Job is one email to one person about one conversation, or a job of
// another kind (then Person is empty and Messages, if set, only say what
// the job is about).
type Job struct {
	ID           string    `json:"id"`
	Kind         Kind      `json:"kind"` // GetJob reads a job stored before kinds as KindEmail
	Person       string    `json:"person"`
	Conversation string    `json:"conversation"`
	Messages     []string  `json:"messages"`          // oldest first
	Dropped      []string  `json:"dropped,omitempty"` // messages that left the job (seen, retracted ...)
	State        State     `json:"state"`
	Created      time.Time `json:"created"`
	Updated      time.Time `json:"updated"`
	// Due is the job's key in the due index: when its hold ends (held),
	// its next attempt (queued) or its lease (sending). It is stored;
	// the lease's Next and Until are set from it (setDue, GetJob).
	Due time.Time `json:"due"`
	// Lease is the job engine's record (package jobs): the sender that
	// holds the job while it is sending (lease_owner) and the claim's
	// fence, the attempts (each lease counts one), and Reason: the last
	// error, cancel reason or remote reply.
	jobs.Lease

	// Set when the hold ends and the email is composed.
	To        string `json:"to,omitempty"`
	From      string `json:"from,omitempty"` // the VERP envelope sender
	MessageID string `json:"message_id,omitempty"`
	Subject   string `json:"subject,omitempty"`
}

// Delivery is what became of one notification (message, person) by email,
// for the delivery view of a message.
type Delivery struct {
	Job    string `json:"job"`
	Status string `json:"status,omitempty"` // set when this message left the job: "cancelled (seen)" ...
}

func dueKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	return append(k, id...)
}

func pairKey(a, b string) []byte { return []byte(a + "\x00" + b) }

func getJSON(tx *store.Tx, bucket string, key []byte, v any) (bool, error) {
	b := tx.Get(bucket, key)
	if b == nil {
		return false, nil
	}
	return true, decodeJSON(bucket, key, b, v)
}

// decodeJSON decodes raw, the record of key in bucket, into v; the error
// names the record.
func decodeJSON[K string | []byte](bucket string, key K, raw []byte, v any) error {
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("decode %s %q: %w", bucket, key, err)
	}
	return nil
}

func putJSON(tx *store.Tx, bucket string, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, key, b)
}

// GetJob returns a job.
func GetJob(tx *store.Tx, id string) (Job, error) {
	return decodeJob(id, tx.Get(bJobs, []byte(id)))
}

// decodeJob decodes job id's stored record raw (nil: ErrNotFound).
func decodeJob(id string, raw []byte) (Job, error) {
	var j Job
	var err error
	if raw == nil {
		err = fmt.Errorf("%w: %s", ErrNotFound, id)
	} else {
		err = decodeJSON(bJobs, id, raw, &j)
	}
	if j.Kind == "" {
		j.Kind = KindEmail
	}
	j.dueToLease()
	return j, err
}

// dueToLease sets the lease's times from Due, which stands for both: the
// end of the lease of a job being sent, the earliest next lease of any
// other live job.
func (j *Job) dueToLease() {
	j.Until, j.Next = time.Time{}, time.Time{}
	switch {
	case j.State == StateSending:
		j.Until = j.Due
	case j.State.Live():
		j.Next = j.Due
	}
}

// setDue moves a live job's due key to t (and records it in the job).
func setDue(tx *store.Tx, j *Job, t time.Time) error {
	if !j.Due.IsZero() {
		if err := tx.Delete(bDue, dueKey(j.Due, j.ID)); err != nil {
			return err
		}
	}
	j.Due = t
	j.dueToLease()
	return tx.Put(bDue, dueKey(t, j.ID), nil)
}

// saveJob writes j. A job in a final state loses its due key, its open
// hold and its body; a live one keeps its due key where setDue put it.
func saveJob(tx *store.Tx, j *Job, now time.Time) error {
	j.Updated = now
	var err error
	if j.State == StateSending {
		err = tx.Put(bLeases, []byte(j.ID), nil)
	} else {
		err = tx.Delete(bLeases, []byte(j.ID))
	}
	if err != nil {
		return err
	}
	if !j.State.Live() {
		if !j.Due.IsZero() {
			if err := tx.Delete(bDue, dueKey(j.Due, j.ID)); err != nil {
				return err
			}
		}
		if err := dropHold(tx, j); err != nil {
			return err
		}
		// A failed job keeps its email so an operator can retry it; the
		// pruner drops it with the job.
		if j.State != StateFailed {
			if err := tx.Delete(bBodies, []byte(j.ID)); err != nil {
				return err
			}
		}
	}
	return putJSON(tx, bJobs, []byte(j.ID), j)
}

// dropHold removes the (person, conversation) index entry if it names j, so
// the next notification starts a new hold.
func dropHold(tx *store.Tx, j *Job) error {
	k := pairKey(j.Person, j.Conversation)
	if string(tx.Get(bHeld, k)) == j.ID {
		return tx.Delete(bHeld, k)
	}
	return nil
}
