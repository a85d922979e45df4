package queue

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/store"
)

// Kind is what a job delivers. The email kind is the hold queue proper;
// other kinds borrow its durable machinery (due index, leases, backoff,
// max age, the admin commands) for work that must survive a crash, such as
// telling the web app about a message (the webhook package).
type Kind string

const (
	KindEmail   Kind = "email"
	KindWebhook Kind = "webhook"
)

// Sender delivers the jobs of one kind other than email. body is what
// Enqueue stored with the job. An error is temporary, and the job retried
// with the kind's backoff, unless marked with Permanent. A Sender bounds
// its own work (timeouts, how many at once): the worker's per-destination
// email limits do not apply to it.
type Sender interface {
	Send(ctx context.Context, j Job, body []byte) (Result, error)
}

// ErrExists is returned (wrapped) by Enqueue for a job ID already used.
var ErrExists = errors.New("queue: job exists")

// MaxBody bounds what Enqueue stores with a job.
const MaxBody = 1 << 20

// Enqueue adds a job of a kind other than email, due now (j.Created), in
// the caller's transaction, with body to hand to the kind's Sender. j.ID
// (a store.NewID, unique) and j.Created must be set. Emails are not
// enqueued this way: they start as holds (Queue.Hold).
func Enqueue(tx *store.Tx, j Job, body []byte) error {
	switch {
	case j.Kind == "" || j.Kind == KindEmail:
		return fmt.Errorf("queue: enqueue: emails start with Hold")
	case j.ID == "" || j.Created.IsZero():
		return fmt.Errorf("queue: enqueue %s job: it needs an ID and a creation time", j.Kind)
	case len(body) > MaxBody:
		return fmt.Errorf("queue: enqueue %s job: body of %d bytes is over %d", j.Kind, len(body), MaxBody)
	case tx.Get(bJobs, []byte(j.ID)) != nil:
		return fmt.Errorf("%w: %s", ErrExists, j.ID)
	}
	j.State, j.Attempts, j.Due = StateQueued, 0, time.Time{}
	if err := setDue(tx, &j, j.Created); err != nil {
		return err
	}
	if err := tx.Put(bBodies, []byte(j.ID), body); err != nil {
		return err
	}
	return saveJob(tx, &j, j.Created)
}

// backoff is the retry schedule of j's kind.
func (q *Queue) backoff(j *Job) Backoff {
	if b, ok := q.KindBackoff[j.Kind]; ok {
		return b.Or(DefaultBackoff)
	}
	return q.Backoff.Or(DefaultBackoff)
}
