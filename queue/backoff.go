package queue

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry schedule after a temporary failure: Base doubled
// per attempt, capped at Max, each delay moved by up to ±Jitter of itself
// so emails deferred together (a relay that was down) do not all come
// back in the same second.
type Backoff struct {
	Base   time.Duration // first delay (default 1m)
	Max    time.Duration // longest delay (default 2h)
	Jitter float64       // fraction, 0..1 (default 0.2)
	// Rand returns a number in [0,1); nil is math/rand/v2. Tests fix it.
	Rand func() float64
}

// DefaultBackoff: 1m, 2m, 4m ... 2h, then every 2h until MaxAge.
var DefaultBackoff = Backoff{Base: time.Minute, Max: 2 * time.Hour, Jitter: 0.2}

// Delay is the wait after the attempt-th failed attempt (1-based).
func (b Backoff) Delay(attempt int) time.Duration {
	if b.Base <= 0 {
		b.Base, b.Max, b.Jitter = DefaultBackoff.Base, DefaultBackoff.Max, DefaultBackoff.Jitter
	}
	if b.Max < b.Base {
		b.Max = b.Base
	}
	d := b.Base
	for i := 1; i < attempt && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	if b.Jitter > 0 {
		r := rand.Float64
		if b.Rand != nil {
			r = b.Rand
		}
		d += time.Duration(float64(d) * b.Jitter * (2*r() - 1))
	}
	return d
}
