package queue

import (
	"time"

	"github.com/deskmail/deskmail/jobs"
)

// Backoff is the retry schedule after a temporary failure: the job
// engine's (jobs.Backoff), Base doubled per attempt, capped at Max, each
// delay moved by up to ±Jitter of itself.
type Backoff = jobs.Backoff

// DefaultBackoff: 1m, 2m, 4m ... 2h, then every 2h until MaxAge. A
// Backoff with no Base is this one.
var DefaultBackoff = Backoff{Base: time.Minute, Max: 2 * time.Hour, Jitter: 0.2}
