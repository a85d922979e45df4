package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// task is one claimed email in the hands of a worker.
type task struct {
	id    string
	st    inbound.State // as claimed: its Fence is the claim's
	keys  []string
	deps  []chan struct{} // earlier emails of this process sharing a key
	entry *seqEntry
	// admitted: the task holds one of the turns yielding counts (yield.go).
	admitted bool
	// loaded: the record and raw bytes the claim read (PostgreSQL), nil
	// when the worker reads them itself.
	loaded *inbound.Loaded
	// record: the record's bytes as the claim read them (PostgreSQL; nil
	// when the claim read none), which the commit finds unchanged or
	// gives the email back.
	record []byte
}

// errPermanent marks what can never be processed as it is.
var errPermanent = errors.New("cannot be processed")

// permanent wraps err as a failure that retrying cannot mend.
func permanent(err error) error { return fmt.Errorf("%w: %w", errPermanent, err) }

// errRecordChanged: the commit found the email's record other than the
// claim read it (the step was given a stale one).
var errRecordChanged = errors.New("record changed since the claim")

// errEarlier: an email answered 250 before this one, sharing a key, is
// still to be committed (by another node, or not yet claimed).
type errEarlier struct {
	id    string
	until time.Time // its next attempt, when it waits out a backoff
	key   string    // the ordering key they share
	seq   uint64    // its Seq
}

func (e errEarlier) Error() string { return "waiting for earlier email " + e.id }

// start registers a claimed email with the sequencer.
// loaded is what the claim read of it (nil: nothing, bbolt).
func (p *Pipeline) start(ctx context.Context, c inbound.Candidate, loaded *inbound.Loaded) *task {
	t := &task{id: c.ID, st: c.State, keys: c.State.Keys, loaded: loaded}
	if loaded != nil {
		t.record = loaded.Record()
	}
	if t.keys == nil {
		// Stored before ordering keys were recorded: take them from the
		// record (sender, Message-ID), as the claim read it or read
		// now; its references are not known.
		var m inbound.Meta
		var err error
		if loaded != nil {
			m, err = loaded.Meta()
		} else {
			m, err = inbound.Load(ctx, p.DB, c.ID)
		}
		if err == nil {
			t.keys = inbound.MetaOrderKeys(m)
		}
	}
	p.mu.Lock()
	p.inflight[t.id] = true
	t.deps, t.entry = p.seq.enter(t.keys)
	p.mu.Unlock()
	return t
}

// done releases what start took and wakes the dispatcher: a worker is free.
func (p *Pipeline) done(t *task) {
	p.leave(t)
	p.mu.Lock()
	delete(p.inflight, t.id)
	p.seq.leave(t.keys, t.entry)
	p.mu.Unlock()
	p.Wake("")
}

// giveBack releases the claim (shutdown, admission refused, or its
// record changed since the claim): the next run, or another node, takes
// the email at once instead of after the lease.
func (p *Pipeline) giveBack(t *task) {
	p.release(msgLog{l: p.Log, id: t.id}, t, time.Time{})
}

// msgLog is l.With("msg", id), made when a line about the email is
// logged: most emails log none, and With formats the attribute for its
// handler at once (slog's TextHandler: an allocation or more per email).
type msgLog struct {
	l  *slog.Logger
	id string
}

func (m msgLog) Debug(msg string, args ...any) {
	if m.l.Enabled(context.Background(), slog.LevelDebug) {
		m.l.With("msg", m.id).Debug(msg, args...)
	}
}
func (m msgLog) Info(msg string, args ...any)  { m.l.With("msg", m.id).Info(msg, args...) }
func (m msgLog) Warn(msg string, args ...any)  { m.l.With("msg", m.id).Warn(msg, args...) }
func (m msgLog) Error(msg string, args ...any) { m.l.With("msg", m.id).Error(msg, args...) }

// commitOpts are the options of a commit that ends an email's
// processing (done, or set aside as failed): what it reads, its locks
// (extra: those of the step's writes, see declare).
func commitOpts(t *task, m inbound.Meta, extra ...string) []store.UpdateOption {
	return append(append(inbound.CommitReads(t.id, t.st), store.Background(), journal.Reads(m.JournalID)), commitLocks(t.id, t.st.Keys, extra)...)
}

// declare is what the step's writes will lock (the conversation the email
// threads to, its sender's address, the job a bounce names...), as the
// step found before the commit (intake.Result.Locks): the commit declares
// them, so that it takes them all in its first round trip, in the one
// sorted order. A guess: should the commit's run need a lock not in it
// (the data changed meanwhile, or the step could not tell), the store
// runs it again with that one (store.Tx.Need). With bbolt, one writer,
// there is nothing to declare.
func (p *Pipeline) declare(ctx context.Context, res intake.Result) []string {
	if res.Apply == nil || res.Locks == nil || !p.DB.Shared() || p.NoDeclare {
		return nil
	}
	return res.Locks(ctx)
}

// process does one email: the work before the commit, the wait for the
// earlier emails that share a key, the commit.
func (p *Pipeline) process(ctx context.Context, t *task) {
	defer p.done(t)
	if ctx.Err() != nil {
		p.giveBack(t) // handed out just before shutdown
		return
	}
	log := msgLog{l: p.Log, id: t.id}
	// The record and its raw bytes, as the claim read them or in one
	// read; the step's ReadRaw (OpenRaw) takes the bytes from sctx.
	var sctx context.Context
	var m inbound.Meta
	var err error
	if t.loaded != nil {
		sctx, m, err = t.loaded.Open(ctx)
		t.loaded = nil
	} else {
		sctx, m, err = inbound.LoadWithRaw(ctx, p.DB, t.id)
	}
	var res intake.Result
	if err == nil && p.Step != nil {
		res, err = p.safeStep(sctx, m)
	}
	if errors.Is(err, inbound.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		// The stored record or its bytes are gone: no retry brings
		// them back.
		err = permanent(err)
	}
	if ctx.Err() != nil {
		// Shutdown cut the step short (its DNS lookups, say): the email
		// stays pending and is done again, whole, by whoever comes next.
		p.giveBack(t)
		return
	}
	if err != nil {
		p.setback(log, t, m, err)
		return
	}
	for _, d := range t.deps {
		select {
		case <-d:
		case <-ctx.Done():
			p.giveBack(t)
			return
		}
	}
	if p.afterDeps != nil {
		p.afterDeps(t.id)
	}
	locks := p.declare(ctx, res)
	opts := commitOpts(t, m, locks...)
	if !p.DB.Shared() {
		// One committer, background writes in the order queued: the
		// emails waiting for this one may queue theirs now (sequencer).
		opts = append(opts, store.Queued(t.entry.release))
	} else if res.Reads != nil {
		opts = append(opts, res.Reads()...)
	}
	// The backlog's refresh runs beside this commit: Begin and Done
	// bracket it and its Remove (inbound.Backlog.Load).
	p.Backlog.Begin(t.st.Size)
	defer p.Backlog.Done(t.st.Size)
	err = p.DB.Update(ctx, func(tx *store.Tx) error {
		st, err := inbound.CheckClaim(tx, t.id, p.owner, t.st.Fence)
		if err != nil {
			return err
		}
		if t.record != nil && !inbound.Unchanged(tx, t.id, t.record) {
			// The step ran on a record since rewritten (nothing but
			// this commit should): give the email back, to be claimed
			// again with the record as it is.
			return errRecordChanged
		}
		if b, err := inbound.EarlierBlocker(tx, t.id, st, p.Clock.Now()); err != nil {
			return err
		} else if b.ID != "" {
			return errEarlier{id: b.ID, until: b.Until, key: b.Key, seq: b.Seq}
		}
		if p.BeforeCommit != nil {
			if err := p.BeforeCommit(t.id); err != nil {
				return err
			}
		}
		if res.Apply != nil {
			if err := safeApply(res.Apply, tx); err != nil {
				return err
			}
		}
		return inbound.Finish(tx, t.id, p.owner, t.st.Fence)
	}, opts...)
	var early errEarlier
	switch {
	case err == nil:
		if res.After != nil {
			res.After()
		}
		p.Backlog.Remove(t.st.Size)
		p.forgetHeld(t)
		metricPipeline.WithLabelValues("ok").Inc()
		metricToConversation.Observe(p.Clock.Now().Sub(m.Received).Seconds())
	case errors.Is(err, inbound.ErrClaimLost):
		// Another worker has it now (this one's lease ran out): it does
		// the email; nothing was written here.
		metricPipeline.WithLabelValues("claim_lost").Inc()
		log.Info("claim taken over by another worker; nothing written", "fence", t.st.Fence)
	case errors.As(err, &early):
		// The earlier email is in another node's hands, was not yet
		// claimed here, or waits out a short backoff: try again when it
		// may have gone through, without counting an attempt.
		metricPipeline.WithLabelValues("waiting").Inc()
		log.Debug("waiting for an earlier email of the same conversation", "earlier", early.id)
		wait := orderWaitElsewhere
		p.mu.Lock()
		if p.inflight[early.id] {
			wait = orderWait // ours, about to be committed
		}
		p.mu.Unlock()
		p.release(log, t, later(p.Clock.Now().Add(wait), early.until))
		p.noteHeld(t, early)
		p.pauseAffinity(early.id)
	case errors.Is(err, errRecordChanged):
		metricPipeline.WithLabelValues("record_changed").Inc()
		log.Warn("record changed since the claim read it; given back, nothing written")
		p.giveBack(t)
	case ctx.Err() != nil:
		p.giveBack(t)
	default:
		p.setback(log, t, m, err)
	}
}

// commitLocks is what the pipeline's commit of one email serialises on
// (store.Locks): the email (claims of other nodes skip it meanwhile);
// what its step's writes touch (extra, see declare: one conversation, one
// sender's address, the job a bounce names; each accessor of such data
// checks its lock, store.Tx.Need); and a barrier on its ordering keys
// (store.Barriers), so that an accept of the same key still in flight (it
// holds the key shared, and its number may be smaller) has committed
// before the ordering check looks, while accepts that come later do not
// wait for this commit (inbound.AcceptLocks). Commits of other
// conversations, and the seen-acks, leases and completions of other
// conversations and jobs, run beside it; accepts and claims never wait
// for it.
func commitLocks(id string, keys, extra []string) []store.UpdateOption {
	names := make([]string, len(keys))
	for i, k := range keys {
		names[i] = inbound.OrderLock(k)
	}
	return []store.UpdateOption{store.Locks(append([]string{inbound.EmailLock(id)}, extra...)...), store.Barriers(names...)}
}

// setback records a failure: permanent ones set the email aside as
// failed (kept, and re-queued by `deskmail inbound retry`); every other
// one leaves it pending with backoff, journaled "pending: <reason>".
func (p *Pipeline) setback(log interface {
	Warn(string, ...any)
	Error(string, ...any)
}, t *task, m inbound.Meta, cause error) {
	reason := cause.Error()
	now := p.Clock.Now()
	if errors.Is(cause, errPermanent) {
		metricPipeline.WithLabelValues("failed").Inc()
		p.Backlog.Begin(t.st.Size)
		defer p.Backlog.Done(t.st.Size)
		err := p.DB.Update(context.Background(), func(tx *store.Tx) error {
			if err := inbound.Fail(tx, t.id, p.owner, t.st.Fence, reason, now); err != nil {
				return err
			}
			return intake.UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
				e.Action = "failed: " + reason + "; kept: `deskmail inbound retry " + t.id + "` processes it again"
			})
		}, commitOpts(t, m)...)
		if err == nil {
			p.Backlog.Remove(t.st.Size)
			log.Error("stored email cannot be processed; set aside as failed", "err", cause)
			return
		}
		if errors.Is(err, inbound.ErrClaimLost) {
			return
		}
		log.Error("set email aside as failed", "err", err)
		// Not recorded: fall through and retry it like a transient one.
	}
	metricPipeline.WithLabelValues("pending").Inc()
	attempt := t.st.Attempts // the claim counted it
	next := now.Add(p.backoff(attempt))
	err := p.DB.Update(context.Background(), func(tx *store.Tx) error {
		if _, err := inbound.Defer(tx, t.id, p.owner, t.st.Fence, reason, next); err != nil {
			return err
		}
		return intake.UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
			e.Action = fmt.Sprintf("pending: %s (attempt %d; next at %s)", reason, attempt, next.UTC().Format(time.RFC3339))
		})
	}, store.Background(), inbound.ClaimReads([]string{t.id}), journal.Reads(m.JournalID), store.Locks(inbound.EmailLock(t.id)))
	if errors.Is(err, inbound.ErrClaimLost) {
		return
	}
	if err != nil {
		// The store refused even the note (the disk is full, say): the
		// claim stays, and this process waits out the backoff anyway.
		log.Error("record pending email's backoff", "err", err)
		p.mu.Lock()
		p.notBefore[t.id] = next
		p.mu.Unlock()
	}
	log.Warn("email stays pending, will retry", "err", cause, "attempt", attempt, "next", next.UTC().Format(time.RFC3339))
}

// release gives the claim back with no attempt before next.
func (p *Pipeline) release(log interface{ Warn(string, ...any) }, t *task, next time.Time) {
	err := p.DB.Update(context.Background(), func(tx *store.Tx) error {
		return inbound.Release(tx, t.id, p.owner, t.st.Fence, next)
	}, store.Background(), inbound.ClaimReads([]string{t.id}), store.Locks(inbound.EmailLock(t.id)))
	if err != nil && !errors.Is(err, inbound.ErrClaimLost) {
		log.Warn("give back claim", "err", err)
		p.mu.Lock()
		p.notBefore[t.id] = next
		p.mu.Unlock()
	}
}

// safeStep runs the step; a panic is a permanent failure of this email,
// not of the daemon.
func (p *Pipeline) safeStep(ctx context.Context, m inbound.Meta) (res intake.Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = permanent(fmt.Errorf("processing step panicked: %v", r))
		}
	}()
	return p.Step(ctx, m)
}

// safeApply runs the step's writes; a panic there is permanent too (the
// store would report it as an ordinary error, retried for ever).
func safeApply(apply func(*store.Tx) error, tx *store.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = permanent(fmt.Errorf("writing the result panicked: %v", r))
		}
	}()
	return apply(tx)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// How long an email waits before trying again when an earlier email of
// its conversation is still to be committed: briefly when this process
// has that email in hand, longer when another node has it or nobody yet
// (no hot loop of claims across nodes while its lookups take seconds).
const (
	orderWait          = 25 * time.Millisecond
	orderWaitElsewhere = 250 * time.Millisecond
)
