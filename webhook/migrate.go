package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// outboxBucket is where events waited before webhook jobs moved to the
// queue.
const outboxBucket = "webhook_outbox"

// MigrateOutbox moves the events left in the old outbox by an earlier
// version into the queue as webhook jobs, due now; run at start, before
// the queue worker. It returns how many moved. Their earlier attempts are
// not carried over: the queue's age limit counts from the event's time.
// All of it is one commit, so a stop halfway moves nothing. A record that
// cannot be read is left in the old bucket rather than refusing to start.
func MigrateOutbox(ctx context.Context, db *store.DB, now time.Time) (int, error) {
	n := 0
	err := db.Update(ctx, func(tx *store.Tx) error {
		n = 0
		if tx.Count(outboxBucket) == 0 {
			return nil
		}
		var keys [][]byte
		var events []Event
		err := tx.Scan(outboxBucket, nil, func(k, v []byte) (bool, error) {
			var r struct {
				Event Event `json:"event"`
			}
			if err := json.Unmarshal(v, &r); err != nil || r.Event.ID == "" {
				return true, nil // unreadable: left where it is, not worth refusing to start
			}
			keys = append(keys, append([]byte(nil), k...))
			events = append(events, r.Event)
			return true, nil
		})
		if err != nil {
			return err
		}
		for i, e := range events {
			if e.Time.IsZero() {
				e.Time = now
			}
			switch err := Enqueue(tx, e); {
			case err == nil:
				n++
			case !errors.Is(err, queue.ErrExists): // one event in twice: its job is there
				return err
			}
			if err := tx.Delete(outboxBucket, keys[i]); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}
