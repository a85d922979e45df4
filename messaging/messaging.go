// Package messaging is the one path every new message takes, whether the
// web app posted it over HTTP or threading appended it from an email:
// store the message -> work out its recipients (notify) -> record their
// in-app notifications, all in one commit, then tell live subscribers.
// Email about a notification (the hold queue) hangs off the same commits
// through the OnNotify and OnSeen hooks.
package messaging

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// Service posts messages and seen-acknowledgements.
type Service struct {
	DB    *store.DB
	Clock clock.Clock
	Hub   *Hub

	// OnNotify, if set, runs in the commit of Post for each notification
	// recorded (the hold queue starts or joins a held email). Its error
	// fails the Post: a notification is never stored without its email.
	OnNotify func(tx *store.Tx, n model.Notification) error
	// OnSeen, if set, runs in the commit of Seen with the message IDs
	// newly marked seen (the hold queue shrinks or cancels the held
	// email).
	OnSeen func(tx *store.Tx, person, conv string, marked []string) error
	// SeenPlan, if set, prepares OnSeen's part of a seen-ack: a query
	// answered with the ack's snapshot (model.CheckSeen), and from its
	// answer and the messages the snapshot found pending (those the ack
	// will mark, unless marked meanwhile) the locks and reads the commit
	// declares up front, so that OnSeen costs no round trip of its own
	// (the hold queue: the held email's record, and what cancelling it
	// appends to the journal when the ack may empty it), and the function
	// the commit runs instead of OnSeen (SeenCommit).
	SeenPlan func(person, conv string) (store.Query, func(found []store.KV, pending []string) SeenCommit)

	acks ackQueue
}

// SeenCommit is what SeenPlan prepared for a seen-ack's commit: what
// the commit declares, and, if set, the function it runs with the
// messages marked instead of OnSeen, which may take what the snapshot
// found as still true under the commit's locks. It runs only when the
// ack marks nothing the snapshot did not find pending (SeenCheck.Complete);
// an ack that reads the unseen index in its commit (model.MarkSeen) may
// mark messages notified after its snapshot, and runs OnSeen, which
// reads for itself.
type SeenCommit struct {
	Opts   []store.UpdateOption
	OnSeen func(tx *store.Tx, marked []string) error
}

// Posted is what Post stored.
type Posted struct {
	Message    model.Message      `json:"message"`
	Recipients []notify.Recipient `json:"recipients"`
}

// Post stores m (its ID is made when empty) and its notifications. It
// returns once everything is committed.
func (s *Service) Post(ctx context.Context, m model.Message) (Posted, error) {
	now := s.Clock.Now()
	if m.ID == "" {
		m.ID = store.NewID(now)
	}
	m.Created = now
	var out Posted
	var notes []model.Notification
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		var err error
		if out, notes, err = PostTx(tx, m, now); err != nil {
			return err
		}
		return s.Notified(tx, notes)
	})
	if err != nil {
		return Posted{}, err
	}
	if s.Hub != nil {
		s.Hub.Publish(notes)
	}
	return out, nil
}

// Notified runs OnNotify for notes in tx. Post calls it; a caller of
// PostTx (the inbound pipeline) calls it in the same transaction so the
// notifications of an email-borne message are held for email too.
func (s *Service) Notified(tx *store.Tx, notes []model.Notification) error {
	if s.OnNotify == nil {
		return nil
	}
	for _, n := range notes {
		if err := s.OnNotify(tx, n); err != nil {
			return fmt.Errorf("hold email: %w", err)
		}
	}
	return nil
}

// SeenResult is what a seen-ack did.
type SeenResult struct {
	// Marked are the messages whose notification of the person the ack
	// marked seen, oldest first (none for a repeated ack).
	Marked []string
	// UnknownMessage: upTo is not a message of the conversation, and
	// nothing was marked.
	UnknownMessage bool
	// Wrote tells whether the ack took a write transaction; an ack that
	// finds nothing to mark is answered from its read where the store
	// allows (store.DB.ReadsAreDurable).
	Wrote bool
}

// AckGuard is a check a seen-ack makes in its own snapshot before
// anything else: Query is read with the ack's reads (model.CheckSeen), and
// an error from Check ends the ack with that error, nothing read acted on
// and nothing written. httpapi checks a person token's generation so
// (persontoken.GenerationQuery): the revocation is read in the same
// statement as the ack, at the same moment, instead of in one of its own.
type AckGuard struct {
	Query store.Query
	Check func([]store.KV) error
}

// Ack records that person saw conv up to message upTo, as POST /v1/seen
// takes it: the person and the conversation must exist (model.ErrNotFound
// otherwise); an upTo that is not a message of conv marks nothing
// (UnknownMessage). It is idempotent, and returns once what it marked is
// committed. The guards, if any, are checked first (AckGuard).
//
// One snapshot read (model.CheckSeen, one round trip on PostgreSQL)
// finds what is pending. When nothing is, nothing changes, and on a store
// whose reads see only durable commits the ack is answered from that read.
// Otherwise the commit declares everything up front: its locks (SeenLocks),
// and the records it and the held email's hook (SeenPlan) will read, which
// come back with the locks in the commit's first round trip.
//
// On PostgreSQL acks that arrive together share their read and their
// commit (ackBatch): one statement reads what each of them needs, one
// transaction writes what each marks, and each is answered once that
// transaction is durable, with what it alone marked.
func (s *Service) Ack(ctx context.Context, person, conv, upTo string, guards ...AckGuard) (SeenResult, error) {
	a := s.newAck(ctx, person, conv, upTo, guards)
	if s.DB.Shared() {
		return s.acks.wait(s, a)
	}
	res, err := s.DB.Snapshot(ctx, a.queries...)
	if err != nil {
		return SeenResult{}, err
	}
	if !s.read(a, res) {
		return a.res, a.err
	}
	now := s.Clock.Now()
	err = s.DB.Update(ctx, func(tx *store.Tx) error { return s.mark(tx, a, now) }, a.opts...)
	if err != nil {
		return SeenResult{}, err
	}
	return SeenResult{Marked: a.marked, Wrote: true}, nil
}

// ack is one seen-ack on its way through Ack.
type ack struct {
	ctx              context.Context
	person, conv, up string
	guards           []AckGuard
	queries          []store.Query // model.SeenQueries, the guards', SeenPlan's
	own              int           // how many of queries are model.SeenQueries
	plan             func([]store.KV, []string) SeenCommit
	onSeen           func(*store.Tx, []string) error // SeenCommit.OnSeen
	// What the read found, when the ack must write.
	check  model.SeenCheck
	opts   []store.UpdateOption // writeOptions
	marked []string
	// The answer.
	res  SeenResult
	err  error
	done chan struct{}
}

func (s *Service) newAck(ctx context.Context, person, conv, upTo string, guards []AckGuard) *ack {
	a := &ack{ctx: ctx, person: person, conv: conv, up: upTo, guards: guards}
	a.queries = model.SeenQueries(person, conv, upTo)
	a.own = len(a.queries)
	for _, g := range guards {
		a.queries = append(a.queries, g.Query)
	}
	if s.SeenPlan != nil {
		var q store.Query
		q, a.plan = s.SeenPlan(person, conv)
		a.queries = append(a.queries, q)
	}
	return a
}

// read takes the answers to a.queries: false when that answers the ack
// (a.res, a.err), true when it must write what a.check found.
func (s *Service) read(a *ack, res [][]store.KV) bool {
	c, err := model.ParseSeen(a.person, a.conv, res)
	if len(c.Extra) == len(a.queries)-a.own {
		for i, g := range a.guards {
			if gerr := g.Check(c.Extra[i]); gerr != nil {
				a.err = gerr
				return false
			}
		}
		c.Extra = c.Extra[len(a.guards):]
	}
	switch {
	case err != nil:
		a.err = err
		return false
	case !c.Known:
		a.res = SeenResult{UnknownMessage: true}
		return false
	case len(c.Pending) == 0 && s.DB.ReadsAreDurable():
		return false
	}
	a.check = c
	// What its commit declares, worked out here: in the read, outside
	// any transaction (SeenPlan may prepare the held email's record).
	a.opts = s.writeOptions(a)
	return true
}

// writeOptions are what the commit of a declares (see Ack).
func (s *Service) writeOptions(a *ack) []store.UpdateOption {
	opts := SeenLocks(a.person, a.conv)
	if a.check.Complete {
		opts = append(opts, model.SeenReads(a.person, a.check.Pending))
	}
	if a.plan != nil {
		c := a.plan(a.check.Extra[0], a.check.Pending)
		opts = append(opts, c.Opts...)
		if a.check.Complete {
			a.onSeen = c.OnSeen
		}
	}
	return opts
}

// mark writes a's marks and runs OnSeen, in the commit; a.marked is what
// it marked (set anew if the store runs the commit again).
func (s *Service) mark(tx *store.Tx, a *ack, now time.Time) error {
	var err error
	if a.check.Complete {
		// Pending is every unseen notification up to upTo as of the
		// snapshot; one added since is of a message committed after
		// it, which the person had not seen when acking.
		a.marked, err = model.MarkSeenOf(tx, a.person, a.conv, a.check.Pending, now)
	} else {
		a.marked, err = model.MarkSeen(tx, a.person, a.conv, a.up, now)
	}
	switch {
	case err != nil:
		return err
	case a.onSeen != nil:
		return a.onSeen(tx, a.marked)
	case s.OnSeen != nil:
		return s.OnSeen(tx, a.person, a.conv, a.marked)
	}
	return nil
}

// Seen is Ack for callers inside deskmail: an unknown person or
// conversation is not an error either, it just marks nothing. It returns
// the message IDs newly marked seen.
func (s *Service) Seen(ctx context.Context, person, conv, upTo string) ([]string, error) {
	r, err := s.Ack(ctx, person, conv, upTo)
	if errors.Is(err, model.ErrNotFound) {
		return nil, nil
	}
	return r.Marked, err
}

// SeenLocks are what a seen-ack serialises on: the person's
// notifications of the conversation (model.SeenLock), so that two acks of
// them take turns, and the conversation shared (model.ConvLock), so that
// acks of several people run side by side while the pipeline's commit of
// an email to the conversation (which adds to the same unseen index and
// held emails, holding the conversation's lock alone) and a lease that
// ends a hold about it take turns with them.
func SeenLocks(person, conv string) []store.UpdateOption {
	return []store.UpdateOption{store.Locks(model.SeenLock(person, conv)), store.SharedLocks(model.ConvLock(conv))}
}

// Retract marks a message retracted: it stays in the conversation's
// history but is never emailed afterwards.
func (s *Service) Retract(ctx context.Context, id string) (model.Message, error) {
	now := s.Clock.Now()
	var m model.Message
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		var err error
		if m, err = model.GetMessage(tx, id); err != nil {
			return err
		}
		if m.Retracted == nil {
			t := now
			m.Retracted = &t
			return model.PutMessage(tx, m)
		}
		return nil
	})
	return m, err
}

// Hub fans new notifications out to live subscribers (the SSE stream).
// A slow subscriber loses events rather than slowing the writer; it can
// re-read its inbox.
type Hub struct {
	mu   sync.Mutex
	subs map[string]map[chan model.Notification]struct{}
}

// NewHub makes an empty hub.
func NewHub() *Hub { return &Hub{subs: map[string]map[chan model.Notification]struct{}{}} }

// SubscriberBuffer is how many events a subscriber may fall behind.
const SubscriberBuffer = 64

// Subscribe returns a channel of person's new notifications and a cancel
// function that must be called.
func (h *Hub) Subscribe(person string) (<-chan model.Notification, func()) {
	ch := make(chan model.Notification, SubscriberBuffer)
	h.mu.Lock()
	if h.subs[person] == nil {
		h.subs[person] = map[chan model.Notification]struct{}{}
	}
	h.subs[person][ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs[person], ch)
		if len(h.subs[person]) == 0 {
			delete(h.subs, person)
		}
		h.mu.Unlock()
	}
}

// Publish sends each notification to its person's subscribers.
func (h *Hub) Publish(ns []model.Notification) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, n := range ns {
		for ch := range h.subs[n.Person] {
			select {
			case ch <- n:
			default:
			}
		}
	}
}
