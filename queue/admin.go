package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// EmailStatus is the email state of message messageID for person, for the
// delivery view (GET /v1/messages/{id}/delivery): "" when no email was
// ever planned, else "held", "sending", "queued" (waiting for a retry),
// "sent", "captured", "failed", "bounced", "suppressed", or "cancelled
// (reason)" such as "cancelled (seen)".
func EmailStatus(tx *store.Tx, messageID, person string) string {
	var d Delivery
	if ok, err := getJSON(tx, bDelivery, pairKey(messageID, person), &d); !ok || err != nil {
		return ""
	}
	if d.Status != "" {
		return d.Status
	}
	j, err := GetJob(tx, d.Job)
	if err != nil {
		return ""
	}
	if j.State == StateCancelled && j.Reason != "" {
		return "cancelled (" + j.Reason + ")"
	}
	return string(j.State)
}

// DeliveryStatus adapts EmailStatus to the HTTP API's hook
// (httpapi.Server.DeliveryStatus): each call reads in its own transaction
// on the caller's context (the request's), and "no email
// planned" is the API's "not_sent".
func DeliveryStatus(db *store.DB) func(ctx context.Context, messageID, person string) string {
	return func(ctx context.Context, messageID, person string) string {
		var s string
		_ = db.View(ctx, func(tx *store.Tx) error { s = EmailStatus(tx, messageID, person); return nil })
		if s == "" {
			s = "not_sent"
		}
		return s
	}
}

// List returns the live jobs in due order, at most limit.
func List(tx *store.Tx, limit int) ([]Job, error) {
	var out []Job
	err := tx.Scan(bDue, nil, func(k, _ []byte) (bool, error) {
		j, err := GetJob(tx, string(k[8:]))
		if err != nil {
			return false, err
		}
		out = append(out, j)
		return len(out) < limit, nil
	})
	return out, err
}

// ErrState is returned (wrapped) for an operator action the job's state
// does not allow.
var ErrState = errors.New("queue: not in this state")

// Retry makes a live job due now (a held one skips the rest of its hold),
// or puts a failed or bounced one back in the queue.
func (q *Queue) Retry(tx *store.Tx, id string) (Job, error) {
	j, err := GetJob(tx, id)
	if err != nil {
		return Job{}, err
	}
	now := q.Clock.Now()
	switch {
	case j.State == StateSending:
		return j, fmt.Errorf("%w: job %s is being sent; retry it if its lease (until %s) runs out", ErrState, id, j.Due.UTC().Format(time.RFC3339))
	case j.State.Live():
	case j.State == StateFailed || j.State == StateBounced:
		if tx.Get(bBodies, []byte(id)) == nil {
			return j, fmt.Errorf("%w: job %s: its %s is no longer kept; it cannot be retried", ErrState, id, bodyName(j.Kind))
		}
		// A new life: the age limit counts from now.
		j.State, j.Created, j.Due = StateQueued, now, time.Time{}
	default:
		return j, fmt.Errorf("%w: job %s is %s: there is nothing to retry", ErrState, id, j.State)
	}
	if err := setDue(tx, &j, now); err != nil {
		return Job{}, err
	}
	return j, saveJob(tx, &j, now)
}

// Cancel ends a job that is not being sent.
func (q *Queue) Cancel(tx *store.Tx, id string) (Job, error) {
	j, err := GetJob(tx, id)
	if err != nil {
		return Job{}, err
	}
	if !j.State.Live() || j.State == StateSending {
		return j, fmt.Errorf("%w: job %s is %s: it cannot be cancelled", ErrState, id, j.State)
	}
	return j, q.cancel(tx, &j, "operator", q.Clock.Now())
}

// History is the journal of one job, oldest first (within the log's
// retention).
func History(ctx context.Context, db *store.DB, id string, since time.Time) ([]journal.Entry, error) {
	all, err := journal.Query(ctx, db, journal.Filter{Since: since, Direction: journal.Out, Limit: 100000})
	if err != nil {
		return nil, err
	}
	var out []journal.Entry
	for _, e := range all {
		if e.Job == id {
			out = append(out, e)
		}
	}
	return out, nil
}
