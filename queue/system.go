package queue

import (
	"bytes"
	"fmt"
	"net/mail"
	"time"

	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// SystemEmail is an email deskmail sends on a system event (welcome,
// password reset ...; SPEC section 8): composed at once and sent with no
// hold, since there is nothing a recipient could see first.
type SystemEmail struct {
	Person   string // the recipient's person ID ("" for none)
	To       mail.Address
	Subject  string
	Text     string
	HTML     string
	Template string // the template it was written from, for the log
}

// EnqueueSystem composes e with the Mailer's From, Message-ID and loop
// marker, and adds it as an email job due now (no hold), in the caller's
// transaction. The outgoing log records it as queued; the worker sends it
// like any email: retries, suppression, bounces. An address suppressed
// after hard bounces is recorded and not sent.
func (m *Mailer) EnqueueSystem(tx *store.Tx, e SystemEmail, now time.Time) (Job, error) {
	j := Job{ID: store.NewID(now), Kind: KindEmail, Person: e.Person, Messages: []string{},
		Created: now, To: e.To.Address, Subject: e.Subject, Lease: jobs.Lease{Reason: "system email " + e.Template}}
	j.MessageID = m.Keyring.MessageID(m.Domain)
	j.From = VERPAddress(j.ID, m.Domain)
	if Suppressed(tx, j.To) {
		j.State, j.Reason = StateSuppressed, "address suppressed after hard bounces"
		if err := saveJob(tx, &j, now); err != nil {
			return j, err
		}
		return j, (&Queue{}).journal(tx, &j, journal.StatusSuppressed, j.Reason, nil, now)
	}
	if why := unverifiedPerson(tx, e.Person, e.Template); why != "" {
		return j, (&Queue{}).cancel(tx, &j, why, now)
	}
	if ok, why, err := allowRecipient(tx, m.RecipientCap, personKind(tx, e.Person), j.To, e.Template, now); err != nil || !ok {
		if err != nil {
			return j, err
		}
		return j, (&Queue{}).cancel(tx, &j, why, now)
	}
	var b bytes.Buffer
	h := headerWriter{&b}
	h.add("Date", now.Format(time.RFC1123Z))
	h.add("From", m.From.String())
	h.add("To", e.To.String())
	h.add("Subject", encodeText(e.Subject))
	h.add("Message-ID", "<"+j.MessageID+">")
	// RFC 3834 §5: written by a machine; auto-responders stay quiet.
	h.add("Auto-Submitted", "auto-generated")
	h.add("X-Auto-Response-Suppress", "All")
	if m.Marker != nil && m.MarkerHeader != "" {
		h.add(m.MarkerHeader, m.Marker(j.MessageID))
	}
	if err := writeAlternative(&b, e.Text, e.HTML); err != nil {
		return j, fmt.Errorf("compose %s: %w", e.Template, err)
	}
	if b.Len() > MaxBody {
		return j, fmt.Errorf("compose %s: %d bytes is over %d", e.Template, b.Len(), MaxBody)
	}
	j.State = StateQueued
	if err := setDue(tx, &j, now); err != nil {
		return j, err
	}
	if err := tx.Put(bBodies, []byte(j.ID), b.Bytes()); err != nil {
		return j, err
	}
	if err := tx.Put(bMsgIDs, []byte(threading.CanonicalMessageID(j.MessageID)), []byte(j.ID)); err != nil {
		return j, err
	}
	if err := saveJob(tx, &j, now); err != nil {
		return j, err
	}
	return j, (&Queue{}).journal(tx, &j, journal.StatusQueued, j.Reason, nil, now)
}
