package story

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// Story is the whole answer to "why was or wasn't X emailed about this
// message": the message, how it arrived, and per recipient the rule that
// notified them, when they saw it, and what became of the email. The page
// /messages/{id} and `deskmail why` both tell it from this one value.
type Story struct {
	Message      model.Message      `json:"message"`
	Conversation model.Conversation `json:"conversation"`
	Author       string             `json:"author_name,omitempty"`
	// Arrival is the log line of the email the message came from (nil
	// when it came over HTTP, or the line was pruned).
	Arrival     *journal.Entry    `json:"arrival,omitempty"`
	Recipients  []RecipientStory  `json:"recipients"`
	Person      string            `json:"person,omitempty"` // the --person asked about
	NotNotified *NotNotifiedStory `json:"not_notified,omitempty"`
}

// RecipientStory is one notified person.
type RecipientStory struct {
	Person   string     `json:"person"`
	Name     string     `json:"name,omitempty"`
	Emails   []string   `json:"emails,omitempty"`
	Rule     string     `json:"rule"` // the reason the rules of SPEC section 2 gave
	Notified time.Time  `json:"notified"`
	Seen     *time.Time `json:"seen,omitempty"`
	// Email is the email's status ("held", "sent", "cancelled (seen)",
	// "" when none was planned); Job is its queue job.
	Email   string          `json:"email"`
	Job     *queue.Job      `json:"job,omitempty"`
	History []journal.Entry `json:"history,omitempty"`
	Summary string          `json:"summary"`
}

// NotNotifiedStory answers for a --person who is not among the recipients.
type NotNotifiedStory struct {
	Known   bool   `json:"known"`
	Kind    string `json:"kind,omitempty"`
	Follows bool   `json:"follows"`
	Why     string `json:"why"`
}

// ErrNoMessage is returned for an unknown message.
var ErrNoMessage = errors.New("no such message")

// BuildStory reads the story of message id (one person's, if person is
// set); the log is read back to since.
func BuildStory(ctx context.Context, db *store.DB, id, person string, since time.Time) (Story, error) {
	var st Story
	jobs := map[string]bool{}
	err := db.View(ctx, func(tx *store.Tx) error {
		m, err := model.GetMessage(tx, id)
		if errors.Is(err, model.ErrNotFound) {
			return fmt.Errorf("%w: %s", ErrNoMessage, id)
		} else if err != nil {
			return err
		}
		st.Message, st.Person = m, person
		st.Conversation, _ = model.GetConversation(tx, m.Conversation)
		if p, err := model.GetPerson(tx, m.Author); err == nil {
			st.Author = p.Name
		}
		ns, err := model.NotificationsOf(tx, id)
		if err != nil {
			return err
		}
		for _, n := range ns {
			if person != "" && n.Person != person {
				continue
			}
			rs := RecipientStory{Person: n.Person, Rule: n.Reason, Notified: n.Created, Seen: n.Seen}
			if p, err := model.GetPerson(tx, n.Person); err == nil {
				rs.Name, rs.Emails = p.Name, p.Emails
			}
			rs.Email = queue.EmailStatus(tx, id, n.Person)
			if d, ok, err := queue.DeliveryOf(tx, id, n.Person); err == nil && ok {
				if j, err := queue.GetJob(tx, d.Job); err == nil {
					rs.Job = &j
					jobs[j.ID] = true
				}
			}
			st.Recipients = append(st.Recipients, rs)
		}
		if person != "" && len(st.Recipients) == 0 {
			st.NotNotified = notNotified(tx, person, st.Conversation, m)
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	// One pass over the log finds the arrival and every job's history:
	// both come after the email arrived, which is before the message was
	// made (an hour covers a pipeline backlog), so the pass starts there.
	if from := st.Message.Created.Add(-time.Hour); from.After(since) {
		since = from
	}
	all, err := journal.Query(ctx, db, journal.Filter{Since: since, Limit: 100000})
	if err != nil {
		return st, err
	}
	for _, e := range all {
		switch {
		case e.Direction == journal.In && st.Message.Original != "" && e.StoredID == st.Message.Original:
			e := e
			st.Arrival = &e
		case e.Direction == journal.Out && jobs[e.Job]:
			for i := range st.Recipients {
				if j := st.Recipients[i].Job; j != nil && j.ID == e.Job {
					st.Recipients[i].History = append(st.Recipients[i].History, e)
				}
			}
		}
	}
	for i := range st.Recipients {
		st.Recipients[i].Summary = summary(&st.Recipients[i], st.Message.Retracted)
	}
	return st, nil
}

// summary says in one sentence what happened by email, and why.
func summary(r *RecipientStory, retracted *time.Time) string {
	seen := ""
	if r.Seen != nil {
		seen = " They saw it at " + r.Seen.UTC().Format(time.DateTime) + " UTC."
	}
	switch s := r.Email; {
	case s == "":
		return "Notified in the messenger; no email was planned (the hold queue has no email for this person)." + seen
	case s == "held":
		return "Notified; the email is held until " + r.Job.Due.UTC().Format(time.DateTime) + " UTC and is sent then unless they see the message first." + seen
	case s == "cancelled (seen)":
		return "Not emailed: they saw the message before the hold ended." + seen
	case s == "cancelled (retracted)" || retracted != nil && len(s) > 9 && s[:9] == "cancelled":
		return "Not emailed: the message was retracted." + seen
	case len(s) > 9 && s[:9] == "cancelled":
		return "Not emailed: the email was " + s + "." + seen
	case s == "sent" || s == "captured":
		return "Emailed: the email was " + s + "." + seen
	case s == "queued" || s == "sending":
		return "Being emailed: the email is " + s + " (a try failed for now or it is under way)." + seen
	}
	return "The email is " + r.Email + "." + seen
}

// notNotified explains, as far as the store tells, why person is not a
// recipient.
func notNotified(tx *store.Tx, person string, c model.Conversation, m model.Message) *NotNotifiedStory {
	p, err := model.GetPerson(tx, person)
	if err != nil {
		return &NotNotifiedStory{Why: "deskmail does not know this person."}
	}
	ns := &NotNotifiedStory{Known: true, Kind: string(p.Kind), Follows: model.Follows(tx, person, c)}
	switch {
	case person == m.Author:
		ns.Why = "They wrote the message: an author is never notified of their own message."
	case p.Kind == notify.KindCustomer && c.Kind == model.Internal:
		ns.Why = "Customers are never notified of internal messages."
	case p.Kind == notify.KindCustomer && !ns.Follows:
		ns.Why = "A customer is notified only of conversations they follow."
	case p.Kind == notify.KindCustomer && m.Outsider:
		ns.Why = "The message was written by someone who is not a participant of the conversation: no customer is notified of it."
	default:
		ns.Why = fmt.Sprintf("Their settings (visibility %s, from customers %s, from users %s, followed internal %v) or what they follow (follows the conversation or its item: %v) did not make them a recipient.",
			p.Settings.Visibility, p.Settings.FromCustomers, p.Settings.FromUsers, p.Settings.FollowedInternal, ns.Follows)
	}
	return ns
}
