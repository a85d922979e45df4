// Package center is the messaging center (SPEC sections 3 and 8): it
// handles the events the web app reports (a user created, an item
// assigned or closed, a project invitation ...), sends the system emails
// they call for, and runs the automations whose trigger they match.
//
// Service.Handle does all of an event's work in one store transaction:
// the event is recorded under its idempotency key with its outcome, so an
// event sent twice is handled once and the second answer repeats the
// first. System emails are rendered from the current templates and go
// into the outgoing queue due at once (queue.Mailer.EnqueueSystem);
// messages an automation posts go through messaging.PostTx, so followers
// are notified by the normal rules, and their notifications are held for
// email like any other.
package center

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

// Service handles events.
type Service struct {
	DB        *store.DB
	Clock     clock.Clock
	Mailer    *queue.Mailer
	Messaging *messaging.Service
	// Wake tells the queue worker an email is due now (optional).
	Wake func()
}

// Handle records ev and does its work, once: an event whose ID was
// handled before returns the stored outcome with Duplicate set.
func (s *Service) Handle(ctx context.Context, ev Event) (Outcome, error) {
	if err := ev.Validate(); err != nil {
		return Outcome{}, err
	}
	now := s.Clock.Now()
	var out Outcome
	var notes []model.Notification
	err := s.DB.Update(ctx, func(tx *store.Tx) error {
		out, notes = Outcome{}, nil
		if old, ok, err := getEvent(tx, ev.ID); err != nil || ok {
			out, out.Duplicate = old, true
			return err
		}
		ev.Received = now
		out.Event = ev
		h := handler{s: s, tx: tx, now: now, out: &out}
		if err := h.run(); err != nil {
			return err
		}
		notes = h.notes
		return putEvent(tx, out)
	})
	if err != nil {
		return Outcome{}, err
	}
	if s.Messaging != nil && s.Messaging.Hub != nil {
		s.Messaging.Hub.Publish(notes)
	}
	if len(out.Emails) > 0 && !out.Duplicate && s.Wake != nil {
		s.Wake()
	}
	return out, nil
}

// handler is one event's work inside its transaction.
type handler struct {
	s     *Service
	tx    *store.Tx
	now   time.Time
	out   *Outcome
	notes []model.Notification
}

func (h *handler) run() error {
	if err := h.systemEmails(); err != nil {
		return err
	}
	return h.automations()
}

func (h *handler) skip(format string, args ...any) {
	h.out.Skipped = append(h.out.Skipped, fmt.Sprintf(format, args...))
}

// sendTemplate renders template name for person and queues it. A person
// with no address is skipped (and said so in the outcome).
func (h *handler) sendTemplate(name, personID string, d templates.Data) error {
	p, err := model.GetPerson(h.tx, personID)
	if errors.Is(err, model.ErrNotFound) {
		h.skip("%s: no person %s", name, personID)
		return nil
	}
	if err != nil {
		return err
	}
	if len(p.Emails) == 0 {
		h.skip("%s: %s has no email address", name, personID)
		return nil
	}
	t, err := templates.Get(h.tx, name)
	if err != nil {
		return err
	}
	d.Org = h.s.Mailer.From.Name
	d.RecipientName = p.Name
	r, err := templates.Render(t, d)
	if err != nil {
		// Every saved version rendered with the sample data; this is a
		// value the sample does not have. Skip rather than fail the event.
		h.skip("%s for %s: %v", name, personID, err)
		return nil
	}
	j, err := h.s.Mailer.EnqueueSystem(h.tx, queue.SystemEmail{Person: p.ID, To: mail.Address{Name: p.Name, Address: p.Emails[0]},
		Subject: r.Subject, Text: r.Text, HTML: r.HTML, Template: name}, h.now)
	if err != nil {
		return err
	}
	h.out.Emails = append(h.out.Emails, SentEmail{Template: name, Person: p.ID, Job: j.ID})
	return nil
}

// name is a person's display name, or the ID when unknown.
func (h *handler) name(id string) string {
	if id == "" {
		return ""
	}
	if p, err := model.GetPerson(h.tx, id); err == nil && p.Name != "" {
		return p.Name
	}
	return id
}
