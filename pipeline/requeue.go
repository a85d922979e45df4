package pipeline

import (
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// Requeue makes a failed (or backing-off pending) email due now and
// journals it; the daemon's pipeline and `deskmail inbound retry` offline
// both use it.
func Requeue(tx *store.Tx, id string) error {
	if err := inbound.Requeue(tx, id); err != nil {
		return err
	}
	return journalRequeue(tx, id)
}

// RequeueFailed requeues every failed email.
func RequeueFailed(tx *store.Tx) ([]string, error) {
	ids, err := inbound.RequeueFailed(tx)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := journalRequeue(tx, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func journalRequeue(tx *store.Tx, id string) error {
	m, err := inbound.LoadTx(tx, id)
	if err != nil || m.JournalID == "" {
		return nil // nothing to annotate; the email is re-queued all the same
	}
	return intake.UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
		e.Action = "pending: re-queued by an operator (" + e.Action + ")"
	})
}
