package inbound

import (
	"sync/atomic"
	"time"

	"github.com/deskmail/deskmail/clock"
)

// Activity counts the accepts a client waits for (SMTP, LMTP and the HTTP
// API's; not the IMAP fetcher's, which has no client waiting for a 250),
// so the pipeline can let them go first (pipeline.Yield). An accept counts
// from the start of its DATA to its answer, and for ActivityHold after,
// so that a client sending one message after another over one session
// (or a new connection per message) counts as busy between two of them.
type Activity struct {
	Clock clock.Clock // default clock.Real
	n     atomic.Int64
	last  atomic.Int64 // UnixNano of the last accept's end
}

// ActivityHold is how long after its last accept a client still counts as
// busy.
const ActivityHold = 100 * time.Millisecond

func (a *Activity) now() time.Time {
	if a.Clock == nil {
		return time.Now()
	}
	return a.Clock.Now()
}

// begin counts an accept in progress; end must follow. A nil Activity
// counts nothing.
func (a *Activity) begin() {
	if a != nil {
		a.n.Add(1)
	}
}

func (a *Activity) end() {
	if a != nil {
		a.last.Store(a.now().UnixNano())
		a.n.Add(-1)
	}
}

// Busy reports whether an accept is in progress or ended less than
// ActivityHold ago.
func (a *Activity) Busy() bool {
	if a == nil {
		return false
	}
	if a.n.Load() > 0 {
		return true
	}
	last := a.last.Load()
	return last != 0 && a.now().UnixNano()-last < int64(ActivityHold)
}
