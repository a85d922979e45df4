package queue

import (
	"context"
	"time"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// Prune deletes the finished jobs last changed before before, with their
// delivery records, Message-ID index entries and kept emails, at most
// batch per commit (a short commit keeps the writers behind it moving).
// Live jobs are never pruned, however old. It is one of the journal
// pruner's Also functions, so a job is kept as long as its log entries.
//
// Job IDs sort by creation time, and a job is changed only after it is
// created, so the scan stops at the first job created after before.
func Prune(ctx context.Context, db *store.DB, before time.Time) (int, error) {
	const batch = 500
	total := 0
	from := []byte(nil)
	limit := store.NewID(before)[:16] // the time part of an ID
	for {
		var n int
		var next []byte
		err := db.Update(ctx, func(tx *store.Tx) error {
			n, next = 0, nil
			var doomed []Job
			seen := 0
			err := tx.Scan(bJobs, from, func(k, v []byte) (bool, error) {
				if string(k[:min(len(k), 16)]) >= limit {
					return false, nil
				}
				seen++
				if seen > 4*batch { // bound the work per commit; go on next time
					next = append([]byte(nil), k...)
					return false, nil
				}
				var j Job
				if _, err := getJSON(tx, bJobs, k, &j); err != nil {
					return false, err
				}
				if !j.State.Live() && j.Updated.Before(before) {
					doomed = append(doomed, j)
				}
				return len(doomed) < batch, nil
			})
			if err != nil {
				return err
			}
			for _, j := range doomed {
				if err := dropJob(tx, j); err != nil {
					return err
				}
			}
			n = len(doomed)
			if next == nil && n == batch {
				next = []byte(doomed[n-1].ID + "\x00")
			}
			return nil
		}, store.Background())
		if err != nil {
			return total, err
		}
		total += n
		if next == nil {
			return total, nil
		}
		from = next
	}
}

func dropJob(tx *store.Tx, j Job) error {
	for _, m := range append(j.Messages, j.Dropped...) {
		k := pairKey(m, j.Person)
		var d Delivery
		if ok, _ := getJSON(tx, bDelivery, k, &d); ok && d.Job == j.ID {
			if err := tx.Delete(bDelivery, k); err != nil {
				return err
			}
		}
	}
	if j.MessageID != "" {
		if err := tx.Delete(bMsgIDs, []byte(threading.CanonicalMessageID(j.MessageID))); err != nil {
			return err
		}
	}
	if err := tx.Delete(bBodies, []byte(j.ID)); err != nil {
		return err
	}
	return tx.Delete(bJobs, []byte(j.ID))
}
