package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

// Bounds of one delivery round.
const (
	// MaxScan is how many outbox records one round looks at, due or not,
	// so a long outbox of failing jobs costs a bounded read.
	MaxScan = 1024
	// MaxBatch is how many due records one round POSTs.
	MaxBatch = 64
	// RequestTimeout bounds one POST.
	RequestTimeout = 30 * time.Second
	// Idle is the longest the worker sleeps without being woken.
	Idle = time.Minute
)

// Worker delivers the outbox.
type Worker struct {
	DB     *store.DB
	URL    string
	Secret []byte
	Client *http.Client // default: one with RequestTimeout
	Clock  clock.Clock
	Log    *slog.Logger
	// MinBackoff and MaxBackoff bound the retry delay (defaults 5s, 1h);
	// the n-th retry waits MinBackoff*2^(n-1), capped, then jittered.
	MinBackoff, MaxBackoff time.Duration
	// Jitter returns a factor in [0.5, 1) by default; tests fix it.
	Jitter func() float64

	wake chan struct{}
}

// NewWorker fills the defaults.
func NewWorker(w Worker) *Worker {
	if w.Client == nil {
		w.Client = &http.Client{Timeout: RequestTimeout}
	}
	if w.MinBackoff == 0 {
		w.MinBackoff = 5 * time.Second
	}
	if w.MaxBackoff == 0 {
		w.MaxBackoff = time.Hour
	}
	if w.Jitter == nil {
		w.Jitter = func() float64 { return 0.5 + rand.Float64()/2 }
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	w.wake = make(chan struct{}, 1)
	return &w
}

// Wake tells the worker there is new work. It never blocks.
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	for ctx.Err() == nil {
		next := w.RunOnce(ctx)
		wait := Idle
		if !next.IsZero() {
			wait = max(next.Sub(w.Clock.Now()), 0)
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-w.Clock.After(wait):
		}
	}
}

// RunOnce POSTs the due records and returns when the next one is due
// (zero when the outbox is empty).
func (w *Worker) RunOnce(ctx context.Context) (next time.Time) {
	now := w.Clock.Now()
	var due []record
	err := w.DB.View(func(tx *store.Tx) error {
		n := 0
		return tx.Scan(bucket, nil, func(_, v []byte) (bool, error) {
			n++
			var r record
			if err := json.Unmarshal(v, &r); err != nil {
				return true, nil
			}
			if r.NextTry.After(now) {
				if next.IsZero() || r.NextTry.Before(next) {
					next = r.NextTry
				}
			} else {
				due = append(due, r)
			}
			return n < MaxScan && len(due) < MaxBatch, nil
		})
	})
	if err != nil {
		w.Log.Error("read webhook outbox", "err", err)
		return now.Add(w.MinBackoff)
	}
	for _, r := range due {
		if ctx.Err() != nil {
			return next
		}
		if t := w.deliver(ctx, r); !t.IsZero() && (next.IsZero() || t.Before(next)) {
			next = t
		}
	}
	if len(due) == MaxBatch {
		next = now // more may be due
	}
	return next
}

// deliver POSTs one record; it returns the next try, zero when done.
func (w *Worker) deliver(ctx context.Context, r record) time.Time {
	err := w.post(ctx, r.Event)
	key := []byte(r.Event.ID)
	if err == nil {
		if err := w.DB.Update(ctx, func(tx *store.Tx) error { return tx.Delete(bucket, key) }); err != nil {
			w.Log.Error("remove delivered webhook", "event", r.Event.ID, "err", err)
		}
		return time.Time{}
	}
	r.Attempts++
	r.LastError = err.Error()
	r.NextTry = w.Clock.Now().Add(w.backoff(r.Attempts))
	w.Log.Warn("webhook failed", "event", r.Event.ID, "attempts", r.Attempts, "next", r.NextTry, "err", err)
	b, _ := json.Marshal(r)
	if err := w.DB.Update(ctx, func(tx *store.Tx) error { return tx.Put(bucket, key, b) }); err != nil {
		w.Log.Error("reschedule webhook", "event", r.Event.ID, "err", err)
	}
	return r.NextTry
}

func (w *Worker) backoff(attempts int) time.Duration {
	d := w.MinBackoff
	for i := 1; i < attempts && d < w.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, w.MaxBackoff)
	return time.Duration(float64(d) * w.Jitter())
}

func (w *Worker) post(ctx context.Context, e Event) error {
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "deskmail-webhook/1")
	req.Header.Set("X-Deskmail-Event", e.ID)
	req.Header.Set(SignatureHeader, Sign(w.Secret, body, w.Clock.Now()))
	resp, err := w.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s answered %s", w.URL, resp.Status)
	}
	return nil
}
