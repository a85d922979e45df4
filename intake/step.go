package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/internal/keptgo"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// InboundStep is the daemon's pipeline step: classify every stored
// email, then thread and append the human ones (SPEC section 5: "classified
// by the loop guard, then threaded, then stored as a message of its
// conversation"). The message is read once and parsed once (mailmsg):
// the loop guard, the rate limit, threading, the sender check and the
// DMARC alignment all read that one parse, so no two of them can read two
// different authors. Everything is written in one commit together with
// the end of the email's processing, so a crash leaves either all of it
// or none, and the re-run after a restart does it once.
//
// A person's email whose author is ambiguous (two From fields in any
// spelling, several mailboxes, a From that does not parse) is attributed
// to no one: it is classified, kept, and marked for operators
// (journal.Entry.Attention), never threaded.
type InboundStep struct {
	DB       *store.DB
	Classify *Classifier
	Thread   *Threader    // nil: classify only
	Queue    *queue.Queue // nil: bounces are classified, not tied to outgoing email
	// Complaints decides which abuse reports may suppress (complaint.go);
	// nil: none may, all are recorded.
	Complaints *Complaints
	Log        *slog.Logger // nil: slog.Default()
	// RoleForward, when set, mails operators a copy of what comes to
	// postmaster@ and abuse@.
	RoleForward *RoleForward
	// Budget bounds the reading of one email, the work before its DNS
	// checks (parse, classification, text and attachments): past it the
	// email is kept for operators as too complex and the worker moves on
	// (default DefaultBudget). Clock times it (default clock.Real: the
	// budget is of work done, not of the daemon's clock; tests set a fake).
	Budget time.Duration
	Clock  clock.Clock
	// read replaces the reading of an email (a test seam; nil: read).
	read func(m inbound.Meta, raw []byte) reading
}

// DefaultBudget is the time one email may take to be read. Reading is
// linear in the size of the email and capped (mailmsg's limits): 40 MiB
// are read in well under a second, so only an email that exploits a flaw
// not yet known reaches it, and then it delays no other email by more.
const DefaultBudget = 5 * time.Second

// reading is the work done on an email before its DNS checks.
type reading struct {
	msg        *mailmsg.Message
	v          loopguard.Verdict
	classified func(*store.Tx) error // records the verdict
	email      email                 // for threading: a person's email with one author, read to its end
	panicked   any
}

// readEmail parses raw once and does with that parse all that needs no
// DNS.
func (s *InboundStep) readEmail(m inbound.Meta, raw []byte) reading {
	msg := s.Classify.Guard.Parse(raw)
	v, classified := s.Classify.classify(m, msg)
	r := reading{msg: msg, v: v, classified: classified}
	if v.Class == loopguard.Human && s.Thread != nil && !msg.Ambiguous() && msg.Cut == "" {
		r.email = emailOf(msg)
	}
	return r
}

// readWithin reads the email within the budget; ok is false when the
// budget ran out first (the reading goes on in the background and its
// result is dropped).
func (s *InboundStep) readWithin(m inbound.Meta, raw []byte) (r reading, ok bool) {
	read := s.read
	if read == nil {
		read = s.readEmail
	}
	clk := s.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	done := make(chan reading, 1)
	keptgo.Go(func() { // a kept goroutine: its stack has readEmail's depth already
		defer func() {
			if p := recover(); p != nil {
				done <- reading{panicked: p}
			}
		}()
		done <- read(m, raw)
	})
	select {
	case r = <-done:
		if r.panicked != nil {
			panic(r.panicked) // in the worker, where the pipeline catches it
		}
		return r, true
	case <-clk.After(s.budget()):
		return reading{}, false
	}
}

func (s *InboundStep) budget() time.Duration {
	if s.Budget > 0 {
		return s.Budget
	}
	return DefaultBudget
}

// Step processes one stored email.
func (s *InboundStep) Step(ctx context.Context, m inbound.Meta) (Result, error) {
	limit := int64(classifyPrefix)
	if s.Thread != nil {
		limit = maxThreadBytes
	}
	raw, err := readStored(ctx, s.DB, m, limit)
	if err != nil {
		return Result{}, err
	}
	r, ok := s.readWithin(m, raw)
	if !ok {
		why := fmt.Sprintf("too complex: not read within %s", s.budget())
		return Result{Apply: markForOperators(m, func(*store.Tx) error { return nil }, why, "not read")}, nil
	}
	msg, v, classified := r.msg, r.v, r.classified
	if v.Class == loopguard.Bounce && v.Bounce != nil && s.Queue != nil {
		src := s.Complaints.check(ctx, m, raw, *v.Bounce)
		if err := s.Complaints.temporary(src); err != nil {
			return Result{}, err
		}
		return Result{Apply: func(tx *store.Tx) error {
			if err := classified(tx); err != nil {
				return err
			}
			if v.Bounce.Complaint() {
				return s.recordComplaint(tx, m, *v.Bounce, src)
			}
			return s.recordBounce(tx, m, *v.Bounce)
		}, Locks: func(context.Context) []string { return bounceLocks(m, *v.Bounce) }}, nil
	}
	if roles := roleMail(m.Envelope); roles != "" {
		return s.keepForOperators(m, raw, roles, v, classified), nil
	}
	if v.Class == loopguard.Human && msg.NoAuthor != "" {
		// Machines' mail (bounces, auto-replies) is attributed to no one
		// anyway; a person's would be, so it waits for an operator: an
		// ambiguous author as much as none at all (no From, no address
		// in it), never dropped.
		return Result{Apply: markForOperators(m, classified, msg.NoAuthor, "attributed to no one")}, nil
	}
	if v.Class == loopguard.Human && msg.Cut != "" {
		// Past mailmsg's caps (MIME nesting, parts) the text may be
		// anywhere: a person's email is not posted half read.
		return Result{Apply: markForOperators(m, classified, "too complex: "+msg.Cut, "not read to its end")}, nil
	}
	if v.Class != loopguard.Human || s.Thread == nil {
		return Result{Apply: classified}, nil
	}
	job := s.Thread.prepare(ctx, m, msg, raw, r.email)
	if authTemporary(job.auth) {
		// Only agents and bots need authentication to be attributed; a
		// DNS hiccup must not quarantine their reply for good. The email
		// stays pending and the pipeline retries it with backoff for as
		// long as it takes (a transient error, never "failed"), as it
		// does when the store cannot tell who the author is.
		staff, err := s.claimsStaff(ctx, job.email.From)
		if err != nil {
			return Result{}, fmt.Errorf("look up the author %s: %w", job.email.From, err)
		}
		if staff {
			return Result{}, fmt.Errorf("authentication of %s hit a temporary DNS failure (%s)", job.email.From, job.auth)
		}
	}
	return Result{
		Apply: func(tx *store.Tx) error {
			if err := classified(tx); err != nil {
				return err
			}
			return job.apply(tx)
		},
		After: job.after,
		Locks: func(ctx context.Context) []string { return job.locks(ctx, s.DB) },
		Reads: job.reads,
	}, nil
}

// bounceLocks are what recording a bounce locks: the outgoing email its
// VERP address names and the address it reports on (the email's own
// address, when it differs, or one found by Message-ID, costs a rerun).
func bounceLocks(m inbound.Meta, r loopguard.BounceReport) []string {
	var names []string
	for _, rcpt := range m.Envelope.Rcpts {
		if id := queue.ParseVERP(rcpt); id != "" {
			names = append(names, queue.JobLock(id))
			break
		}
	}
	if r.Recipient != "" {
		names = append(names, model.AddressLock(r.Recipient))
	}
	return names
}

// markForOperators records the verdict and marks the email for
// operators with why (journal.Entry.Attention); it is not acted on.
func markForOperators(m inbound.Meta, classified func(*store.Tx) error, why, what string) func(*store.Tx) error {
	return func(tx *store.Tx) error {
		if err := classified(tx); err != nil {
			return err
		}
		return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
			e.NeedsAttention(why)
			e.Action = "kept for operators, " + what + ": " + why
		})
	}
}

// authTemporary tells whether the checks could not conclude because of a
// temporary DNS failure, so that trying again later may authenticate.
func authTemporary(r auth.Result) bool {
	if r.Authenticated() {
		return false
	}
	if r.SPF == "temperror" || r.DMARC == "temperror" {
		return true
	}
	for _, d := range r.DKIM {
		if d.Result == "temperror" {
			return true
		}
	}
	return false
}

// claimsStaff tells whether addr belongs to a user or a bot; err is the
// store's, when it could not tell (the caller retries: transient).
func (s *InboundStep) claimsStaff(ctx context.Context, addr string) (staff bool, err error) {
	err = s.DB.View(ctx, func(tx *store.Tx) error {
		p, err := model.PersonByEmail(tx, addr)
		if errors.Is(err, model.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		staff = p.Kind != notify.KindCustomer
		return nil
	})
	return staff, err
}

// recordBounce ties a DSN to the outgoing email it reports on: by the VERP
// address it was sent to (bounce+JOB@domain), else by the original
// Message-ID it quotes; the journal says which email it was, or that none
// of ours matched.
func (s *InboundStep) recordBounce(tx *store.Tx, m inbound.Meta, r loopguard.BounceReport) error {
	id := ""
	for _, rcpt := range m.Envelope.Rcpts {
		if id = queue.ParseVERP(rcpt); id != "" {
			break
		}
	}
	j, err := s.Queue.RecordBounce(tx, id, r)
	action := ""
	switch {
	case errors.Is(err, queue.ErrNotFound):
		action = "bounce (" + loopguard.KindOf(r) + ") for no email of ours; nothing changed"
	case err != nil:
		return err
	default:
		action = bounceAction(r, j.ID)
	}
	return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) { e.Action = action })
}
