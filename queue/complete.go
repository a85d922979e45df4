package queue

import (
	"errors"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// Result is what a transport reports for an email it accepted.
type Result struct {
	// Captured is true when the email was written to the capture folder
	// instead of being sent.
	Captured bool
	// Reply is the next hop's answer to DATA ("250 2.0.0 Ok: queued as
	// 4F2A"), or the file the email was captured to.
	Reply string
}

// PermanentError is a failure that trying again cannot fix: a 5xx reply
// (RFC 5321 §4.2.1), an address that cannot exist. Any other error from a
// transport is temporary and the job is retried with backoff.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent marks err as permanent.
func Permanent(err error) error { return &PermanentError{Err: err} }

// IsPermanent tells whether err is marked permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Complete records the outcome of the attempt of lease l. If the lease was
// lost meanwhile (it expired and another sender took the job: the claim's
// fence moved on) the outcome is dropped: the job belongs to that sender
// now.
func (q *Queue) Complete(tx *store.Tx, l Lease, res Result, sendErr error, now time.Time) error {
	j, err := GetJob(tx, l.Job.ID)
	if err != nil {
		return err
	}
	c := l.Job.Held()
	if j.State != StateSending || j.Check(c) != nil {
		return nil
	}
	switch {
	case sendErr == nil:
		_ = j.End(c, res.Reply)
		j.State, j.Reason = StateSent, res.Reply
		status := journal.StatusSent
		if res.Captured {
			j.State, status = StateCaptured, journal.StatusCaptured
		}
		if err := saveJob(tx, &j, now); err != nil {
			return err
		}
		return q.journal(tx, &j, status, res.Reply, nil, now)
	case IsPermanent(sendErr):
		// A 5xx at RCPT or DATA is a bounce that came back at once: it
		// counts towards suppressing the address like a DSN does. Other
		// kinds have no address to suppress.
		if j.Kind == KindEmail {
			if err := q.hardBounce(tx, j.To, now); err != nil {
				return err
			}
		}
		_ = j.SetAside(c, sendErr.Error())
		return q.fail(tx, &j, sendErr.Error(), now)
	}
	next := now.Add(q.backoff(&j).Delay(j.Attempts))
	if next.Sub(j.Created) > q.maxAge() {
		reason := "no success within " + q.maxAge().String() + ": " + sendErr.Error()
		_ = j.SetAside(c, reason)
		return q.fail(tx, &j, reason, now)
	}
	_ = j.Defer(c, sendErr.Error(), next)
	j.State = StateQueued
	if err := setDue(tx, &j, next); err != nil {
		return err
	}
	if err := saveJob(tx, &j, now); err != nil {
		return err
	}
	// The next attempt is in Reason too: `deskmail log` prints Reason.
	return q.journal(tx, &j, journal.StatusDeferred, j.Reason+"; next attempt "+next.UTC().Format(time.RFC3339), &next, now)
}

func (q *Queue) fail(tx *store.Tx, j *Job, reason string, now time.Time) error {
	j.State, j.Reason = StateFailed, reason
	if err := saveJob(tx, j, now); err != nil {
		return err
	}
	return q.journal(tx, j, journal.StatusFailed, reason, nil, now)
}
