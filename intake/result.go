package intake

import (
	"context"
	"errors"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// Result is what processing a message produced; it is written into the
// message's journal entry.
type Result struct {
	Apply func(tx *store.Tx) error // extra writes in the same commit
	After func()                   // runs once that commit is durable
	// Locks tells what Apply will lock (store.Locks), as far as can be
	// told before the commit; the pipeline asks just before it (after
	// the earlier emails of the conversation were committed) and the
	// commit declares them, so that it takes them all in its first round
	// trip. A name missed costs a rerun of the commit (store.Tx.Need),
	// never a wrong write. nil: none.
	Locks func(context.Context) []string
	// Reads names what Apply reads first (store.Reads, ReadsRange,
	// Draws), for the commit's first round trip on PostgreSQL instead of
	// a round trip of Apply's own; the pipeline asks after Locks, which
	// may learn what the commit will do. A key or range it misses is read
	// when Apply asks. nil: none.
	Reads func() []store.UpdateOption
}

// UpdateEntry rewrites a journal entry; an entry already pruned (a backlog
// older than the retention) is not an error: there is nothing to annotate,
// and the message must still leave the pending list.
func UpdateEntry(tx *store.Tx, id string, fn func(*journal.Entry)) error {
	if id == "" {
		return nil // the record could not be read: no entry to annotate
	}
	err := journal.Update(tx, id, fn)
	if errors.Is(err, journal.ErrNotFound) {
		return nil
	}
	return err
}
