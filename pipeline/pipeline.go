package pipeline

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
)

// Pipeline carries stored inbound emails through the steps that follow
// the 250 (classify, thread, notify) into their conversations.
//
// Its state is the store's (inbound.State), never only its memory: a
// dispatcher claims due pending emails with a lease and hands them to a
// bounded pool of workers; a worker does the work before the commit
// (read, parse, classify, SPF/DKIM/DMARC), waits for the emails that were
// answered 250 before it and may share its conversation (sequencer.go),
// and commits, re-checking its claim inside the commit. A transient
// failure leaves the email pending, tried again with capped backoff for
// as long as it takes; only what can never be processed is set aside as
// failed, and kept. Several processes may run it on one store: claims and
// fences decide, and leases of a dead process expire.
type Pipeline struct {
	DB    *store.DB
	Log   *slog.Logger
	Step  func(ctx context.Context, m inbound.Meta) (intake.Result, error)
	Clock clock.Clock // default clock.Real
	// Workers bounds the emails processed at once (default DefaultWorkers).
	Workers int
	// Node names this node; claims are made as Node/<random>, so a claim
	// of a previous run of the same node (a crash) is taken over at once
	// instead of after its lease. Default: the hostname.
	Node string
	// Lease is how long a claim holds (default 2m). A worker that takes
	// longer loses nothing but its work: the commit checks the claim.
	Lease time.Duration
	// RetryBase is the first wait after a transient failure, doubled per
	// attempt up to RetryMax (defaults 1s and 10m).
	RetryBase time.Duration
	RetryMax  time.Duration
	// RetryJitter moves each wait by up to this fraction of itself, so
	// emails deferred together (a resolver that was down) do not all
	// come back in the same second (0: none; the daemon sets 0.2).
	RetryJitter float64
	// Rescan is how often the store is scanned without a wake (expired
	// leases of other nodes, retries due, the backlog gauge); default 5s.
	Rescan time.Duration
	// Backlog, if set, is kept in step with the pending emails.
	Backlog *inbound.Backlog
	// BeforeCommit, if set, runs inside every final commit before the
	// step's writes (a test seam: an error fails the commit).
	BeforeCommit func(id string) error
	// afterDeps, if set (tests), is called when an email's earlier
	// emails no longer hold it back, right before its commit is queued.
	afterDeps func(id string)
	// afterClaim, if set (tests), is called when a claim has committed,
	// before its emails are handed to the workers.
	afterClaim func()
	// beforeClaim, if set (tests), is called right before a claim's
	// transaction is queued.
	beforeClaim func()
	// Yield, if set, lets accepts go first (yield.go).
	Yield *Yield
	// Affinity, if set (the daemon sets DefaultAffinity on a shared
	// store), leaves the emails another node accepted to that node until
	// they are this old (affinity.go); Accepted names this node's.
	Affinity time.Duration
	// NoDeclare makes the commit declare no lock of the step's data ahead
	// (a test seam: every lock it needs is then learned by the store's
	// rerun, store.Tx.Need).
	NoDeclare bool

	once     sync.Once
	wake     chan struct{}
	owner    string
	mu       sync.Mutex
	inflight map[string]bool
	// notBefore holds emails whose backoff could not be written (the
	// store refused even that): this process waits anyway.
	notBefore map[string]time.Time
	seq       sequencer
	order     orderNotes
	aff       affinity
	// nextFull is when the dispatcher scans every pending email next;
	// fullAgain: the last such scan found emails the due index does not
	// hold.
	nextFull  time.Time
	fullAgain bool
	active    int           // tasks admitted (yield.go)
	freed     chan struct{} // an admitted task ended
}

// DefaultAffinity is the daemon's Affinity on a shared store: long
// enough for a node to claim what it accepted (milliseconds when it keeps
// up), short beside a lease (a dead node's unclaimed emails wait this
// long).
const DefaultAffinity = 2 * time.Second

// DefaultWorkers is the size of the worker pool: the work before the
// commit mostly waits for DNS, so it takes many workers to keep two cores
// busy when lookups take tens of milliseconds.
const DefaultWorkers = 32

func (p *Pipeline) init() {
	p.once.Do(func() {
		if p.wake == nil {
			p.wake = make(chan struct{}, 1)
		}
		p.freed = make(chan struct{}, 1)
		if p.Clock == nil {
			p.Clock = clock.Real{}
		}
		if p.Node == "" {
			p.Node, _ = os.Hostname()
		}
		var r [6]byte
		_, _ = rand.Read(r[:])
		p.owner = p.Node + "/" + hex.EncodeToString(r[:])
		p.inflight = map[string]bool{}
		p.notBefore = map[string]time.Time{}
		p.seq.last = map[string]*seqEntry{}
		p.order.init()
		p.aff.mine = map[string]time.Time{}
	})
}

// Wake tells the pipeline there is new work: the email id (made due by
// an operator, say) or any ("" ). It never blocks.
func (p *Pipeline) Wake(id string) {
	p.init()
	if id != "" {
		p.mu.Lock()
		delete(p.notBefore, id)
		p.mu.Unlock()
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// stale tells whether a claim's owner is a previous run of this node,
// which cannot be alive: this process holds the node's data folder.
func (p *Pipeline) stale(owner string) bool {
	return owner != p.owner && strings.HasPrefix(owner, p.Node+"/")
}

// The defaults of the options (max(v, 0): a negative value takes the
// default too).
func (p *Pipeline) workers() int         { return cmp.Or(max(p.Workers, 0), DefaultWorkers) }
func (p *Pipeline) lease() time.Duration { return cmp.Or(max(p.Lease, 0), 2*time.Minute) }

func (p *Pipeline) rescan() time.Duration {
	if p.Rescan > 0 {
		return p.Rescan
	}
	return 5 * time.Second
}

// Run processes pending emails until ctx ends, then waits for its
// workers (an interrupted email gives its claim back).
func (p *Pipeline) Run(ctx context.Context) {
	p.init()
	// Claimed emails wait in this buffer for a free worker: the dispatcher
	// claims up to twice as many emails as there are workers, so one claim
	// transaction hands out many, and a worker that finishes finds its next
	// email at once instead of waiting for a claim commit of its own.
	work := make(chan *task, p.workers())
	var wg sync.WaitGroup
	for range p.workers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range work {
				p.process(ctx, t)
			}
		}()
	}
	defer func() { close(work); wg.Wait() }()
	lastTotals := time.Time{}
	for {
		now := p.Clock.Now()
		if now.Sub(lastTotals) >= p.rescan() {
			p.refreshBacklog(ctx)
			lastTotals = now
		}
		next := p.dispatch(ctx, work)
		wait := p.rescan()
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(p.Clock.Now()), time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-p.Clock.After(wait):
		}
	}
}

// dispatch claims due emails, in the order they were answered 250, up to
// twice the number of workers in hand, and hands them out. It returns the
// earliest later attempt it saw (zero: none).
func (p *Pipeline) dispatch(ctx context.Context, work chan<- *task) time.Time {
	var earliest time.Time
	for ctx.Err() == nil {
		p.mu.Lock()
		held := len(p.inflight)
		p.mu.Unlock()
		if held > p.workers() {
			// Every worker has its next email waiting: claim again when the
			// buffer runs low, a batch at a time, rather than one claim
			// commit per finished email. A worker finishing wakes us.
			return earliest
		}
		free := 2*p.workers() - held
		now := p.Clock.Now()
		// A claim reads the due index; a full scan, at the start, every
		// Rescan and again while the last one found emails the index
		// does not hold (leases that ran out, a previous run's), finds
		// what it misses (see inbound.Scan.Full).
		full := p.fullAgain || p.nextFull.IsZero() || !now.Before(p.nextFull)
		var cands []inbound.Candidate
		var next, leaseEnd time.Time
		var waits []noted
		var notesUntil time.Time
		err := p.DB.View(ctx, func(tx *store.Tx) error {
			var err error
			waits, leaseEnd = waits[:0], time.Time{}
			if notesUntil, err = p.checkNotes(tx, now); err != nil {
				return err
			}
			cands, next, err = inbound.Due(tx, inbound.Scan{Owner: p.owner, Now: now, Max: free,
				Skip: p.skip(now), Held: p.held, Stale: p.stale, Full: full,
				Waiting: func(id string, until time.Time) { waits = append(waits, noted{id, until}) },
				LeaseEnd: func(until time.Time) {
					if leaseEnd.IsZero() || until.Before(leaseEnd) {
						leaseEnd = until
					}
				}})
			return err
		})
		if err == nil && full {
			// The next full scan: after Rescan, or when another owner's
			// lease ends first (its owner may have died).
			p.fullAgain = slices.ContainsFunc(cands, inbound.Candidate.Unindexed)
			p.nextFull = now.Add(p.rescan())
			if !leaseEnd.IsZero() && leaseEnd.Before(p.nextFull) {
				p.nextFull = leaseEnd
			}
		}
		p.remember(waits, now)
		if n := p.earliestNote(now); !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n // a noted email the scan passed over comes due then
		}
		if !notesUntil.IsZero() && (next.IsZero() || notesUntil.Before(next)) {
			next = notesUntil // an email holding back its key's may not then
		}
		if f := p.foreignDue(now); !f.IsZero() && (next.IsZero() || f.Before(next)) {
			next = f // another node's email passed over is anyone's then
		}
		if err != nil {
			p.Log.Error("list pending emails", "err", err)
			return now.Add(time.Second)
		}
		if !next.IsZero() && (earliest.IsZero() || next.Before(earliest)) {
			earliest = next
		}
		if len(cands) == 0 {
			metricDispatchEmpty.Inc()
			return earliest
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].State.Seq < cands[j].State.Seq })
		ids := make([]string, len(cands))
		for i, c := range cands {
			ids[i] = c.ID
		}
		var claimed []inbound.Candidate
		var loaded map[string]inbound.Loaded
		opts := claimOpts(p.DB)
		if p.beforeClaim != nil {
			p.beforeClaim()
		}
		err = p.DB.Update(ctx, func(tx *store.Tx) error {
			claimed, loaded = claimed[:0], nil
			var held []string
			var err error
			if p.DB.Shared() {
				// On PostgreSQL the claim reads the records and raw
				// bytes of the emails whose locks it takes, with the
				// try-lock's round trip and after it, rather than each
				// worker with a read of its own (two statements and a
				// round trip per email); raw bytes up to claimRawBytes
				// in all, the rest their workers read. The commit
				// checks that the record is still the one read here
				// (inbound.Unchanged).
				held, loaded, err = inbound.LockForClaimLoading(tx, ids, claimRawBytes)
			} else {
				held, err = inbound.LockForClaim(tx, ids)
			}
			if err != nil {
				return err
			}
			// An email whose key has an earlier email held elsewhere
			// (noted) is left to that email's holder: its commit here
			// would only find it pending (EarlierBlocker) and be given
			// back. Earlier emails claimed in this batch do not count.
			mine := map[string]bool{}
			hold := func(id string, st inbound.State) bool { return p.heldBack(id, st, mine) }
			for _, c := range cands {
				if !slices.Contains(held, c.ID) {
					continue // another node is claiming or committing it
				}
				st, err := inbound.ClaimCandidate(tx, c, p.owner, now, p.lease(), p.stale, hold)
				if err == nil {
					mine[c.ID] = true
				}
				if errors.Is(err, inbound.ErrNotClaimable) {
					continue // another worker was quicker
				}
				if err != nil {
					return err
				}
				claimed = append(claimed, inbound.Candidate{ID: c.ID, State: st})
			}
			return nil
		}, opts...)
		if err != nil {
			if ctx.Err() == nil {
				p.Log.Error("claim pending emails", "err", err)
			}
			return now.Add(time.Second)
		}
		if p.afterClaim != nil {
			p.afterClaim()
		}
		metricDispatchClaims.Inc()
		metricClaimCandidates.Add(float64(len(cands)))
		metricClaimLost.Add(float64(len(cands) - len(claimed)))
		metricClaimed.Add(float64(len(claimed)))
		// What the claim read of each email claimed, each a copy of its
		// own (the worker's nil releases its bytes), and nothing more
		// (those of the emails held but not claimed go now, not after
		// the last of this batch is handed out).
		mine := make([]*inbound.Loaded, len(claimed))
		for i, c := range claimed {
			if v, ok := loaded[c.ID]; ok {
				mine[i] = &v
			}
		}
		loaded = nil
		for i, c := range claimed {
			t := p.start(ctx, c, mine[i])
			mine[i] = nil
			if !p.admit(ctx, t) {
				p.giveBack(t)
				p.done(t)
				continue
			}
			select {
			case work <- t:
			case <-ctx.Done():
				p.giveBack(t)
				p.done(t)
			}
		}
		if len(claimed) < free {
			return earliest
		}
	}
	return earliest
}

type noted struct {
	id    string
	until time.Time
}

// remember notes the emails a scan found waiting (a backoff, another
// node's lease), so the next scans pass over them without decoding their
// state: with thousands in backoff (a sender's DNS down for hours) every
// new email would otherwise cost a read of all of them. The note lasts
// at most noteFor, so a retry made elsewhere (another node's operator)
// is seen within that time; a retry through this daemon clears it (Wake).
func (p *Pipeline) remember(waits []noted, now time.Time) {
	if len(waits) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, w := range waits {
		p.notBefore[w.id] = minTime(w.until, now.Add(noteFor))
	}
}

// earliestNote is the first moment a noted email comes due (zero: none).
func (p *Pipeline) earliestNote(now time.Time) time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, t := range p.notBefore {
		if t.After(now) && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	return first
}

// noteFor bounds how long a scan's note that an email is waiting is kept.
const noteFor = 30 * time.Second

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// skip leaves out the emails this process is working on or must wait
// for, and those another node accepted that affinity leaves to it.
// It is asked once per pending email during a scan, so it looks the email
// up rather than copying the maps.
func (p *Pipeline) skip(now time.Time) func(string) bool {
	return func(id string) bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.inflight[id] {
			metricDuePassedSkip.Inc()
			return true
		}
		if t, ok := p.notBefore[id]; ok {
			if now.Before(t) {
				metricDuePassedSkip.Inc()
				return true
			}
			delete(p.notBefore, id)
		}
		if p.foreignLocked(id, now) {
			metricDuePassedForeign.Inc()
			return true
		}
		return false
	}
}

// refreshBacklog resets the backlog counts from the store (a read that
// fails because ctx ended, the pipeline stopping, is not worth a warning).
func (p *Pipeline) refreshBacklog(ctx context.Context) {
	if p.Backlog == nil {
		return
	}
	if err := p.Backlog.Load(ctx, p.DB); err != nil && ctx.Err() == nil {
		p.Log.Warn("count pending emails", "err", err)
	}
}

// backoff is the wait after the attempt-th failed attempt: the job
// engine's schedule (jobs.Backoff) from RetryBase, doubled per attempt up
// to RetryMax, moved by up to ±RetryJitter of itself.
func (p *Pipeline) backoff(attempt int) time.Duration {
	return jobs.Backoff{
		Base:   cmp.Or(max(p.RetryBase, 0), time.Second),
		Max:    cmp.Or(max(p.RetryMax, 0), 10*time.Minute),
		Jitter: p.RetryJitter,
	}.Delay(attempt)
}

// claimRawBytes bounds the raw bytes a claim reads on PostgreSQL for
// its workers (inbound.LockForClaimLoading): a claim shares its batch
// with the accepts, which wait for it, and one of 64 emails of 208 KB
// read whole took 19-51 ms against 4-12 ms with this bound
// (docs/PERFORMANCE.md, branch claimfix). Past it, each worker reads its
// email's bytes.
const claimRawBytes = 1 << 20

// claimOpts are how the dispatcher's claims queue for a commit: on a
// shared store (PostgreSQL) beside the writes clients wait for, since a
// claim is cheap and takes no domain lock, and queued behind the
// pipeline's own commits it would leave the workers idle; with bbolt as
// background work.
func claimOpts(db *store.DB) []store.UpdateOption {
	if db.Shared() {
		return []store.UpdateOption{store.Locks()}
	}
	return []store.UpdateOption{store.Background(), store.Locks()}
}
