package jobs

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule after a transient failure: Base doubled
// per failed attempt, capped at Max, each delay then moved by up to
// ±Jitter of itself, so records deferred together (a relay that was
// down, a resolver that timed out) do not all come back in the same
// second. It is the one schedule of the inbound pipeline, the hold queue
// and the IMAP fetcher; each gives its own figures.
type Backoff struct {
	Base   time.Duration // first delay
	Max    time.Duration // longest delay before jitter (below Base: Base)
	Jitter float64       // fraction, 0..1 (0: none)
	// Rand returns a number in [0,1); nil is math/rand/v2. Tests fix it.
	Rand func() float64
}

// Or is b, or def when b has no Base.
func (b Backoff) Or(def Backoff) Backoff {
	if b.Base <= 0 {
		return def
	}
	return b
}

// Delay is the wait after the attempt-th failed attempt (1-based; below
// 1 counts as 1). It lies within ±Jitter of min(Base·2^(attempt-1), Max).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Base <= 0 {
		return 0
	}
	ceiling := max(b.Max, b.Base)
	d := b.Base
	for i := 1; i < attempt && d < ceiling; i++ {
		if d > ceiling/2 {
			d = ceiling // doubling would pass the cap (or overflow)
			break
		}
		d *= 2
	}
	d = min(d, ceiling)
	if j := min(max(b.Jitter, 0), 1); j > 0 {
		r := rand.Float64
		if b.Rand != nil {
			r = b.Rand
		}
		d += time.Duration(float64(d) * j * (2*r() - 1))
	}
	return d
}
