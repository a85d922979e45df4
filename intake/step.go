package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// InboundStep is the daemon's pipeline step: classify every stored
// email, then thread and append the human ones (SPEC section 5: "classified
// by the loop guard, then threaded, then stored as a message of its
// conversation"). The message is read once; everything is written in one
// commit together with the end of the email's processing, so a crash
// leaves either all of it or none, and the re-run after a restart does it
// once.
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
}

// Step processes one stored email.
func (s *InboundStep) Step(ctx context.Context, m inbound.Meta) (Result, error) {
	limit := int64(classifyPrefix)
	if s.Thread != nil {
		limit = maxThreadBytes
	}
	raw, err := readStored(s.DB, m, limit)
	if err != nil {
		return Result{}, err
	}
	v, classified := s.Classify.classify(m, raw)
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
		}}, nil
	}
	if roles := roleMail(m.Envelope); roles != "" {
		return s.keepForOperators(m, raw, roles, v, classified), nil
	}
	if v.Class != loopguard.Human || s.Thread == nil {
		return Result{Apply: classified}, nil
	}
	job, err := s.Thread.prepare(ctx, m, raw)
	if err != nil {
		// Classified but not threadable (a header no parser reads): keep
		// the verdict and say so.
		reason := err.Error()
		return Result{Apply: func(tx *store.Tx) error {
			if err := classified(tx); err != nil {
				return err
			}
			return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) { e.Action = "dropped: " + reason })
		}}, nil
	}
	if authTemporary(job.auth) && s.claimsStaff(job.email.From) {
		// Only agents and bots need authentication to be attributed; a
		// DNS hiccup must not quarantine their reply for good. The email
		// stays pending and the pipeline retries it with backoff for as
		// long as it takes (a transient error, never "failed").
		return Result{}, fmt.Errorf("authentication of %s hit a temporary DNS failure (%s)", job.email.From, job.auth)
	}
	return Result{
		Apply: func(tx *store.Tx) error {
			if err := classified(tx); err != nil {
				return err
			}
			return job.apply(tx)
		},
		After: job.after,
	}, nil
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

// claimsStaff tells whether addr belongs to a user or a bot.
func (s *InboundStep) claimsStaff(addr string) bool {
	staff := false
	_ = s.DB.View(func(tx *store.Tx) error {
		p, err := model.PersonByEmail(tx, addr)
		staff = err == nil && p.Kind != notify.KindCustomer
		return nil
	})
	return staff
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
