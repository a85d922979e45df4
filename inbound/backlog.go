package inbound

import (
	"context"
	"errors"
	"fmt"
	"sync"

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
// are kept in memory, moved by Add and Remove, and put right from the
// store by Load (the pipeline does it at every rescan, which also
// corrects for emails another node stored or finished, and those an
// operator re-queued).
//
// The gauges (deskmail_inbound_pending, _bytes) are set under the same
// lock as the counts change, so the last value set is the last count:
// two emails finished at once by two workers could otherwise publish
// their counts in the opposite order and leave the gauge one high until
// the next Load (the accept benchmark's "stragglers", emails pending 5 s
// after the last 250, were that and Load's race below, not emails).
//
// Load must not undo the Add and Remove that run beside it: its read of
// the store is a snapshot, and an email committed before the snapshot
// whose Add (or Remove) comes after it, or after the snapshot whose Add
// came before Load took the counts, would be counted twice or lost. The
// callers bracket each commit that may add or remove a pending email by
// Begin and Done, and Load corrects the counts only by what those
// commits running beside it cannot explain (reconcile): exactly when
// none ran, and never by a race.
type Backlog struct {
	MaxPending int64
	MaxBytes   int64

	mu    sync.Mutex
	count int64
	bytes int64
	// The commits that may move the counts: in flight (Begin without
	// Done yet) and how many emails and bytes Add and Remove moved in
	// all (Load compares them before and after its read).
	inflight, inflightBytes int64
	moved, movedBytes       int64
	// afterTotals, if set (tests), runs inside Load's read, after the
	// store's totals and before the counts are reconciled with them.
	afterTotals func()
}

// Admit returns a *BusyError when the backlog is over a bound.
func (b *Backlog) Admit() error {
	if b == nil {
		return nil
	}
	n, sz := b.Pending()
	if (b.MaxPending > 0 && n >= b.MaxPending) || (b.MaxBytes > 0 && sz >= b.MaxBytes) {
		metricBackpressure.Inc()
		return &BusyError{Pending: n, MaxPending: b.MaxPending, Bytes: sz, MaxBytes: b.MaxBytes}
	}
	return nil
}

// Begin tells the backlog that a commit which may store or finish an
// email of size bytes is about to run; Done must follow once its Add or
// Remove, if any, is made (whatever the commit's outcome).
func (b *Backlog) Begin(size int64) {
	if b != nil {
		b.mu.Lock()
		b.inflight++
		b.inflightBytes += size
		b.mu.Unlock()
	}
}

// Done ends what Begin began.
func (b *Backlog) Done(size int64) {
	if b != nil {
		b.mu.Lock()
		b.inflight--
		b.inflightBytes -= size
		b.mu.Unlock()
	}
}

// Add counts a newly stored email.
func (b *Backlog) Add(size int64) { b.move(1, size) }

// Remove uncounts an email that left the pending state.
func (b *Backlog) Remove(size int64) { b.move(-1, -size) }

func (b *Backlog) move(n, size int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.count += n
	b.bytes += size
	b.moved++
	b.movedBytes += max(size, -size)
	b.publish()
}

// Set replaces the counts outright: only where no commit can run beside
// it (tests); the daemon's refresh is Load, which allows for them.
func (b *Backlog) Set(count, bytes int64) {
	if b != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		b.count, b.bytes = count, bytes
		b.publish()
	}
}

// Load puts the counts right from the store's (PendingTotals), by what
// the commits that ran beside its read cannot explain (see Backlog).
func (b *Backlog) Load(ctx context.Context, db *store.DB) error {
	b.mu.Lock()
	moved0, movedBytes0 := b.moved, b.movedBytes
	b.mu.Unlock()
	return db.View(ctx, func(tx *store.Tx) error {
		n, sz, err := PendingTotals(tx)
		if err != nil {
			return err
		}
		if b.afterTotals != nil {
			b.afterTotals()
		}
		b.reconcile(n, sz, moved0, movedBytes0)
		return nil
	})
}

// reconcile moves the counts toward the store's totals n and sz, read
// in a snapshot taken after moved and movedBytes were moved0 and
// movedBytes0 (and before now). The counts and the snapshot may differ
// by the commits that ran meanwhile without either seeing both sides:
// one in flight now (committed or not, its Add or Remove to come), or
// one whose Add or Remove came since moved0 (its commit after the
// snapshot, or before it). The counts move only by what is beyond that;
// with no such commit, to the totals exactly.
func (b *Backlog) reconcile(n, sz, moved0, movedBytes0 int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	slack := b.inflight + b.moved - moved0
	slackBytes := b.inflightBytes + b.movedBytes - movedBytes0
	b.count += beyond(n-b.count, slack)
	b.bytes += beyond(sz-b.bytes, slackBytes)
	b.publish()
}

// beyond is the part of d whose size exceeds slack (0 within it).
func beyond(d, slack int64) int64 {
	switch {
	case d > slack:
		return d - slack
	case d < -slack:
		return d + slack
	}
	return 0
}

// Pending returns the counts.
func (b *Backlog) Pending() (count, bytes int64) {
	if b == nil {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.count, b.bytes
}

// publish sets the gauges to the counts (b.mu held).
func (b *Backlog) publish() {
	metricPending.Set(float64(max(b.count, 0)))
	metricPendingBytes.Set(float64(max(b.bytes, 0)))
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
	return store.ViewValue(ctx, db, func(tx *store.Tx) (int64, error) {
		n, _, err := PendingTotals(tx)
		return n, err
	})
}
