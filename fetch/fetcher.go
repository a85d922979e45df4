// Package fetch reads the mailboxes a site already has (its support
// address at Microsoft 365, Google Workspace or a hosting provider) over
// IMAP and hands every message to the same inbound.Receiver as SMTP: same
// dedupe, same pipeline, same 72-hour log ("via IMAP NAME: FOLDER uid N").
// Only once a message is committed is it moved, flagged or deleted on the
// server, and the commit itself records the mailbox, UIDVALIDITY and UID,
// so a crash between the commit and the move never stores it twice.
//
// A Fetcher runs one goroutine per Mailbox: take the mailbox's lease in
// the store (with several nodes on PostgreSQL exactly one fetches it),
// connect (TLS, or STARTTLS; a password or token goes in clear only to a
// loopback address), sign in (password, or an OAuth2 token with SASL
// XOAUTH2 or OAUTHBEARER), read what is new oldest first in batches, then
// wait in IDLE (or poll where the server has no IDLE) and start again. A
// failing mailbox is retried with a capped backoff and reported in
// Status, while the others go on.
package fetch

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
)

// Defaults of a Fetcher.
const (
	DefaultLeaseFor    = time.Minute
	DefaultIdleRefresh = 25 * time.Minute // RFC 2177: re-issue IDLE at least every 29 minutes
	DefaultBatch       = 100
	DefaultBackoffMin  = time.Second
	DefaultBackoffMax  = 5 * time.Minute
)

// Fetcher fetches every configured mailbox.
type Fetcher struct {
	DB       *store.DB
	Receiver *inbound.Receiver
	Clock    clock.Clock
	Log      *slog.Logger
	// Owner names this node in the mailboxes' leases.
	Owner     string
	Mailboxes []*Mailbox
	// MaxMessageBytes: a larger message is left on the server and logged
	// (default: inbound.DefaultLimits).
	MaxMessageBytes int64
	LeaseFor        time.Duration
	IdleRefresh     time.Duration
	Batch           int
	BackoffMin      time.Duration
	BackoffMax      time.Duration

	// afterStore, set by tests, runs after a message is committed and
	// before the server is told: an error ends the session there, as a
	// crash would.
	afterStore func(ctx context.Context, m *Mailbox, uid uint32) error
	// beforeBodies, set by tests, runs between a batch's UID FETCH of
	// sizes and of bodies (someone else expunges a message there).
	beforeBodies func(uids []uint32)

	mu       sync.Mutex
	status   map[string]*Status
	limiters map[string]*limiter
}

// errDied is returned only by tests' afterStore: the node dies there,
// without giving its lease back.
var errDied = errors.New("fetch: the node died (test)")

// Status is how one mailbox is doing, for /readyz, the console's status
// page and `deskmail fetch status`.
type Status struct {
	Name     string    `json:"name"`
	State    string    `json:"state"` // starting, fetching, idle, polling, failing, standby
	Error    string    `json:"error,omitempty"`
	Failures int       `json:"failures,omitempty"` // in a row
	NextTry  time.Time `json:"next_try,omitempty"`
	LastOK   time.Time `json:"last_ok,omitempty"` // last successful sync
	Fetched  int64     `json:"fetched"`           // stored since start
	Owner    string    `json:"owner,omitempty"`   // standby: the node that fetches it
}

// Failing tells whether the mailbox's last attempt failed.
func (s Status) Failing() bool { return s.State == "failing" }

// Statuses returns every mailbox's status, in configuration order.
func (f *Fetcher) Statuses() []Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Status, 0, len(f.Mailboxes))
	for _, m := range f.Mailboxes {
		if s := f.status[m.Name]; s != nil {
			out = append(out, *s)
		} else {
			out = append(out, Status{Name: m.Name, State: "starting"})
		}
	}
	return out
}

func (f *Fetcher) setStatus(name string, fn func(*Status)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status == nil {
		f.status = map[string]*Status{}
	}
	s := f.status[name]
	if s == nil {
		s = &Status{Name: name, State: "starting"}
		f.status[name] = s
	}
	fn(s)
	metricFailing.WithLabelValues(name).Set(b2f(s.State == "failing"))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (f *Fetcher) leaseFor() time.Duration    { return orDefault(f.LeaseFor, DefaultLeaseFor) }
func (f *Fetcher) idleRefresh() time.Duration { return orDefault(f.IdleRefresh, DefaultIdleRefresh) }

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// backoff is the wait after n failures in a row: the job engine's
// schedule (jobs.Backoff), doubling from BackoffMin, capped at
// BackoffMax.
func (f *Fetcher) backoff(n int) time.Duration {
	return jobs.Backoff{Base: orDefault(f.BackoffMin, DefaultBackoffMin), Max: orDefault(f.BackoffMax, DefaultBackoffMax)}.Delay(n)
}

// Run fetches until ctx ends; on return every mailbox's lease is given
// back.
func (f *Fetcher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, m := range f.Mailboxes {
		f.setStatus(m.Name, func(*Status) {})
		if m.TLSInsecure {
			f.Log.Warn("TLS CERTIFICATE NOT VERIFIED for this mailbox (tls_insecure): for tests only, anyone on the path can read the password and the mail", "mailbox", m.Name)
		}
		wg.Add(1)
		go func() { defer wg.Done(); f.runMailbox(ctx, m) }()
	}
	wg.Wait()
}

// runMailbox holds one mailbox: lease, session, backoff, again.
func (f *Fetcher) runMailbox(ctx context.Context, m *Mailbox) {
	log := f.Log.With("mailbox", m.Name)
	sign := newSigner(m)
	failures := 0
	for ctx.Err() == nil {
		lease, err := takeLease(ctx, f.DB, m.Name, f.Owner, f.Clock.Now(), f.leaseFor())
		if err == nil && lease.Owner != f.Owner {
			f.setStatus(m.Name, func(s *Status) { s.State, s.Owner, s.Error = "standby", lease.Owner, "" })
			f.wait(ctx, f.leaseFor()/3)
			continue
		}
		if err == nil {
			err = f.held(ctx, m, lease.Fence, sign, log, func() { failures = 0 })
		}
		if ctx.Err() != nil {
			break
		}
		if errors.Is(err, errDied) {
			return // a test's dead node: no clean stop, the lease stays until it expires
		}
		if errors.Is(err, ErrLeaseLost) {
			log.Warn("another node took the mailbox over")
			continue
		}
		failures++
		wait := f.backoff(failures)
		metricErrors.WithLabelValues(m.Name).Inc()
		log.Warn("mailbox failed; retrying", "err", err, "failures", failures, "retry_in", wait)
		f.setStatus(m.Name, func(s *Status) {
			s.State, s.Error, s.Failures, s.NextTry = "failing", err.Error(), failures, f.Clock.Now().Add(wait)
		})
		f.wait(ctx, wait)
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := releaseLease(rctx, f.DB, m.Name, f.Owner); err != nil {
		log.Warn("give the mailbox's lease back", "err", err)
	}
}

// held runs sessions while the lease is ours, renewing it.
func (f *Fetcher) held(ctx context.Context, m *Mailbox, fence uint64, sign *signer, log *slog.Logger, ok func()) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	defer func() { cancel(nil); <-done }()
	go func() {
		defer close(done)
		for {
			select {
			case <-sctx.Done():
				return
			case <-f.Clock.After(f.leaseFor() / 3):
			}
			l, err := takeLease(sctx, f.DB, m.Name, f.Owner, f.Clock.Now(), f.leaseFor())
			if err == nil && (l.Owner != f.Owner || l.Fence != fence) {
				err = ErrLeaseLost
			}
			if err != nil && sctx.Err() == nil {
				cancel(err)
				return
			}
		}
	}()
	err := f.session(sctx, m, fence, sign, log, ok)
	if c := context.Cause(sctx); c != nil && ctx.Err() == nil && !errors.Is(c, context.Canceled) {
		return c
	}
	return err
}

// wait sleeps d on the clock, or until ctx ends.
func (f *Fetcher) wait(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-f.Clock.After(d):
	}
}
