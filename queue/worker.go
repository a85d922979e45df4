package queue

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
)

// Transport hands an email to the next hop (the mta package's capture,
// relay and mx transports). An error is temporary unless marked with
// Permanent.
type Transport interface {
	Deliver(ctx context.Context, from, to string, msg []byte) (Result, error)
}

// Worker leases due jobs and delivers them: emails through Transport,
// jobs of other kinds through their Sender.
type Worker struct {
	DB        *store.DB
	Queue     *Queue
	Composer  Composer
	Transport Transport
	// Senders deliver the jobs of other kinds. A job of a kind with no
	// Sender (the webhook was turned off with jobs left) is deferred and
	// in time failed, like any job that cannot be delivered.
	Senders map[Kind]Sender
	Clock   clock.Clock
	Log     *slog.Logger
	// Concurrency is how many emails are delivered at once (default 8).
	Concurrency int
	// PerDestination caps the deliveries at once to one recipient domain
	// (default 2), so one slow or rate-limiting provider cannot take
	// every slot, and we stay under the connection limits big providers
	// enforce per client.
	PerDestination int
	// Poll is the longest the worker sleeps between looks at the due
	// index (default 1s). A look is one cursor seek.
	Poll time.Duration

	wakeOnce sync.Once
	wake     chan struct{}
	destMu   sync.Mutex
	dest     map[string]chan struct{}

	// inflight are the leases this worker is delivering (job ID ->
	// claim): the loop renews them before they expire, so a slow
	// delivery (a slot wait, an MX host near its command timeouts) is not
	// handed out again and sent twice while it is still going.
	flightMu sync.Mutex
	inflight map[string]jobs.Claim
}

func (w *Worker) init() {
	w.wakeOnce.Do(func() {
		w.wake = make(chan struct{}, 1)
		w.dest = map[string]chan struct{}{}
		w.inflight = map[string]jobs.Claim{}
		if w.Concurrency <= 0 {
			w.Concurrency = 8
		}
		if w.PerDestination <= 0 {
			w.PerDestination = 2
		}
		if w.Poll <= 0 {
			w.Poll = time.Second
		}
		if w.Log == nil {
			w.Log = slog.New(slog.DiscardHandler)
		}
	})
}

// Wake makes a sleeping worker look at the due index now (after an
// operator's retry).
func (w *Worker) Wake() {
	w.init()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run releases the leases of an earlier run, then delivers due jobs until
// ctx ends. Deliveries under way when ctx ends are cut short and recorded
// as deferred.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	var n int
	var err error
	// Only a store this process owns alone may have all its leases
	// released at start: on a shared database the others may be other
	// nodes' deliveries in flight, which the lease's expiry (and the
	// attempt counter checked by Complete) hands over if their node died.
	release := w.Queue.ReleaseStale
	if w.DB.Shared() {
		release = w.Queue.ReleaseOwn
	}
	err = w.DB.Update(ctx, func(tx *store.Tx) error {
		var err error
		n, err = release(tx, w.Clock.Now())
		return err
	})
	if err != nil {
		w.Log.Error("release stale leases", "err", err)
	} else if n > 0 {
		w.Log.Warn("retrying jobs (emails, webhooks) whose sending was cut short by a stop", "count", n)
	}
	// Deliveries run on their own: a slow destination holds its slot, not
	// the loop, which leases again as soon as a slot is free.
	var running sync.WaitGroup
	defer running.Wait()
	slots := make(chan struct{}, w.Concurrency)
	for {
		w.renew(ctx)
		if free := w.Concurrency - len(slots); free > 0 {
			leases, err := w.lease(ctx, free)
			if err != nil && ctx.Err() == nil {
				w.Log.Error("queue", "err", err)
			}
			for _, l := range leases {
				slots <- struct{}{}
				running.Add(1)
				w.track(l, true)
				go func() {
					defer running.Done()
					w.deliver(ctx, l)
					w.track(l, false)
					<-slots
					w.Wake()
				}()
			}
			if len(leases) == free {
				continue // there may be more due
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-w.Clock.After(w.Poll):
		}
	}
}

func (w *Worker) lease(ctx context.Context, max int) ([]Lease, error) {
	var leases []Lease
	err := w.DB.Update(ctx, func(tx *store.Tx) error {
		var err error
		leases, err = w.Queue.Lease(tx, w.Clock.Now(), max, w.Composer)
		return err
	}, store.Background(), store.Locks()) // each job's own locks: TryLock
	return leases, err
}

// ProcessDue leases up to Concurrency due jobs, delivers them and records
// the outcomes, and returns once all are recorded: one step of the worker,
// for tests and benchmarks. It returns the number of jobs it delivered
// (or tried to).
func (w *Worker) ProcessDue(ctx context.Context) (int, error) {
	w.init()
	leases, err := w.lease(ctx, w.Concurrency)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, l := range leases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.deliver(ctx, l)
		}()
	}
	wg.Wait()
	return len(leases), nil
}

func (w *Worker) deliver(ctx context.Context, l Lease) {
	if l.Job.Kind != KindEmail {
		w.send(ctx, l)
		return
	}
	log := w.Log.With("job", l.Job.ID, "message_id", l.Job.MessageID)
	slot := w.slot(domainOf(l.Job.To))
	var res Result
	var err error
	select {
	case slot <- struct{}{}:
		start := time.Now()
		res, err = w.Transport.Deliver(ctx, l.Job.From, l.Job.To, l.Body)
		metricDeliverySeconds.Observe(time.Since(start).Seconds())
		<-slot
	case <-ctx.Done():
		err = ctx.Err()
	}
	metricDeliveries.WithLabelValues(deliveryResult(res, err)).Inc()
	if err != nil {
		log.Info("delivery failed", "to", l.Job.To, "permanent", IsPermanent(err), "err", err)
	} else {
		log.Info("delivered", "to", l.Job.To, "reply", res.Reply)
	}
	w.complete(ctx, log, l, res, err)
}

// send delivers a job of a kind other than email through its Sender.
func (w *Worker) send(ctx context.Context, l Lease) {
	log := w.Log.With("job", l.Job.ID, "kind", l.Job.Kind)
	var res Result
	err := fmt.Errorf("no sender for %s jobs is configured", l.Job.Kind)
	if s := w.Senders[l.Job.Kind]; s != nil {
		res, err = s.Send(ctx, l.Job, l.Body)
	}
	if err != nil {
		log.Warn("delivery failed", "attempt", l.Job.Attempts, "permanent", IsPermanent(err), "err", err)
	} else {
		log.Info("delivered", "reply", res.Reply)
	}
	w.complete(ctx, log, l, res, err)
}

// complete records an attempt's outcome, even when ctx has ended
// (shutdown): an email that left must not be sent again.
// A job given up on is logged as an error: for an email the outgoing log
// says so too, for a webhook job this line is the trace.
func (w *Worker) complete(ctx context.Context, log *slog.Logger, l Lease, res Result, err error) {
	var after Job
	cerr := w.DB.Update(context.WithoutCancel(ctx), func(tx *store.Tx) error {
		if err := w.Queue.Complete(tx, l, res, err, w.Clock.Now()); err != nil {
			return err
		}
		after, _ = GetJob(tx, l.Job.ID) // only for the log line below
		return nil
	}, store.Background(), CompleteLocks(l, err))
	switch {
	case cerr != nil:
		log.Error("record delivery outcome", "err", cerr)
	case after.State == StateFailed && after.Attempts == l.Job.Attempts:
		log.Error("gave up", "attempts", after.Attempts, "reason", after.Reason)
	}
}

// CompleteLocks is what recording the outcome of l serialises on: its
// job, and for a permanent failure of an email the recipient's bounce
// counter.
func CompleteLocks(l Lease, sendErr error) store.UpdateOption {
	names := []string{JobLock(l.Job.ID)}
	if l.Job.Kind == KindEmail && IsPermanent(sendErr) {
		names = append(names, AddressLock(l.Job.To))
	}
	return store.Locks(names...)
}

func renewLocks(held map[string]jobs.Claim) store.UpdateOption {
	names := make([]string, 0, len(held))
	for id := range held {
		names = append(names, JobLock(id))
	}
	return store.Locks(names...)
}

func (w *Worker) track(l Lease, on bool) {
	w.flightMu.Lock()
	defer w.flightMu.Unlock()
	if on {
		w.inflight[l.Job.ID] = l.Job.Held()
	} else {
		delete(w.inflight, l.Job.ID)
	}
}

// renew pushes the lease of every delivery still in flight to a full lease
// from now, once less than half of it is left. It runs in the worker's
// loop, which wakes at least every Poll.
func (w *Worker) renew(ctx context.Context) {
	w.flightMu.Lock()
	held := maps.Clone(w.inflight)
	w.flightMu.Unlock()
	if len(held) == 0 {
		return
	}
	err := w.DB.Update(ctx, func(tx *store.Tx) error {
		for id, c := range held {
			if err := w.Queue.Renew(tx, id, c, w.Clock.Now()); err != nil {
				return err
			}
		}
		return nil
	}, store.Background(), renewLocks(held))
	if err != nil && ctx.Err() == nil {
		w.Log.Error("renew leases", "err", err)
	}
}

func (w *Worker) slot(dest string) chan struct{} {
	w.destMu.Lock()
	defer w.destMu.Unlock()
	s := w.dest[dest]
	if s == nil {
		s = make(chan struct{}, w.PerDestination)
		w.dest[dest] = s
	}
	return s
}

func domainOf(addr string) string {
	_, d, _ := strings.Cut(addr, "@")
	return strings.ToLower(d)
}
