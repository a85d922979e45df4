package gateway

import (
	"context"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
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
	Thread   *Threader // nil: classify only
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
			return journal.Update(tx, m.JournalID, func(e *journal.Entry) { e.Action = "dropped: " + reason })
		}}, nil
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
