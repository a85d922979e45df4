package center

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/deskmail/deskmail/store"
)

// bEventTimes orders the recorded events by arrival for pruning:
// 8-byte big-endian receive time + event ID -> nil.
const bEventTimes = "center_event_times"

func eventTimeKey(t time.Time, id string) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(id)), uint64(t.UnixNano()))
	return append(k, id...)
}

// PruneEvents forgets the events received before before: their
// idempotency keys then no longer stop a repeat. The daemon runs it with
// the log's retention, far beyond any retry of the web app.
func PruneEvents(ctx context.Context, db *store.DB, before time.Time) (int, error) {
	limit := eventTimeKey(before, "")
	return db.PruneBefore(ctx, bEventTimes, limit, 500, func(tx *store.Tx, k, _ []byte) error {
		return tx.Delete(bEvents, k[8:])
	})
}
