package inbound

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/deskmail/deskmail/store"
)

// ErrBusy is the refusal of new mail while the backlog of stored but not
// yet processed emails is over its bound (a *BusyError wraps it). It is
// temporary: SMTP answers 451 4.3.2, `deliver` exits EX_TEMPFAIL, and the
// sender tries again later, so nothing is lost and the backlog cannot grow
// without bound.
var ErrBusy = errors.New("inbound: too many emails waiting to be processed")

// BusyError says which bound was passed.
type BusyError struct {
	Pending, MaxPending int64
	Bytes, MaxBytes     int64
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("%d emails (%d bytes) are waiting to be processed, over the bound of %d emails or %d bytes; try again later",
		e.Pending, e.Bytes, e.MaxPending, e.MaxBytes)
}

func (e *BusyError) Unwrap() error { return ErrBusy }

var (
	metricBackpressure = promauto.NewCounter(prometheus.CounterOpts{
		Name: "deskmail_inbound_backpressure_total",
		Help: "Emails refused with a temporary error because the backlog of unprocessed emails was over its bound.",
	})
	metricPending = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "deskmail_inbound_pending",
		Help: "Stored emails not yet processed into their conversations (pending, including those waiting for a retry).",
	})
	metricPendingBytes = promauto.NewGauge(prometheus.GaugeOpts{
		Name: "deskmail_inbound_pending_bytes",
		Help: "Size of the stored emails not yet processed.",
	})
)

// Backlog counts the pending emails of this node and refuses new ones
// past MaxPending emails or MaxBytes bytes (zero: no bound). The counts
// are kept in memory, moved by Add and Remove, and reset from the store
// by Set (the pipeline does it at every rescan, which also corrects for
// emails another node stored or finished).
type Backlog struct {
	MaxPending int64
	MaxBytes   int64
	count      atomic.Int64
	bytes      atomic.Int64
}

// Admit returns a *BusyError when the backlog is over a bound.
func (b *Backlog) Admit() error {
	if b == nil {
		return nil
	}
	n, sz := b.count.Load(), b.bytes.Load()
	if (b.MaxPending > 0 && n >= b.MaxPending) || (b.MaxBytes > 0 && sz >= b.MaxBytes) {
		metricBackpressure.Inc()
		return &BusyError{Pending: n, MaxPending: b.MaxPending, Bytes: sz, MaxBytes: b.MaxBytes}
	}
	return nil
}

// Add counts a newly stored email.
func (b *Backlog) Add(size int64) {
	if b != nil {
		b.publish(b.count.Add(1), b.bytes.Add(size))
	}
}

// Remove uncounts an email that left the pending state.
func (b *Backlog) Remove(size int64) {
	if b != nil {
		b.publish(b.count.Add(-1), b.bytes.Add(-size))
	}
}

// Set replaces the counts with the store's.
func (b *Backlog) Set(count, bytes int64) {
	if b != nil {
		b.count.Store(count)
		b.bytes.Store(bytes)
		b.publish(count, bytes)
	}
}

// Load replaces the counts with the store's (PendingTotals).
func (b *Backlog) Load(ctx context.Context, db *store.DB) error {
	return db.View(ctx, func(tx *store.Tx) error {
		n, sz, err := PendingTotals(tx)
		if err == nil {
			b.Set(n, sz)
		}
		return err
	})
}

// Pending returns the counts.
func (b *Backlog) Pending() (count, bytes int64) {
	return b.count.Load(), b.bytes.Load()
}

func (b *Backlog) publish(n, sz int64) {
	metricPending.Set(float64(max(n, 0)))
	metricPendingBytes.Set(float64(max(sz, 0)))
}

// PendingTotals counts the pending emails and their bytes in the store.
func PendingTotals(tx *store.Tx) (count, bytes int64, err error) {
	err = tx.Scan(bucketPending, nil, func(k, v []byte) (bool, error) {
		count++
		if len(v) == 0 {
			return true, nil // stored before states: size unknown, counted as 0
		}
		var st State
		if err := decodeState(v, &st); err != nil {
			return false, fmt.Errorf("decode state of %s: %w", k, err)
		}
		bytes += st.Size
		return true, nil
	})
	return count, bytes, err
}

// PendingCount is the number of stored emails not yet processed, read in
// a transaction of its own (load tools wait for it to reach 0).
func PendingCount(ctx context.Context, db *store.DB) (int64, error) {
	var n int64
	err := db.View(ctx, func(tx *store.Tx) error {
		var err error
		n, _, err = PendingTotals(tx)
		return err
	})
	return n, err
}
