package queue

import (
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

// withheld applies model.EmailWithheld at the end of a hold: a message by
// an outsider, or one in a conversation opened in r's name by an
// unverified email before an agent wrote in it, is not emailed to r. It
// is checked here, when the email is composed, rather than when the hold
// starts, because an agent's reply during the hold changes the answer
// for the messages after it and not for the ones before.
func withheld(tx *store.Tx, m model.Message, r notify.Recipient) (string, error) {
	c, err := model.GetConversation(tx, m.Conversation)
	if err != nil {
		return "", err
	}
	return model.EmailWithheld(c, m, r.PersonID, r.Kind), nil
}

// authorName is how an email names the author of a message: their name,
// but for a customer whose name is a staff member's (or the helpdesk's
// own) their address and an "external" mark too, so that an outsider
// calling themselves "Ada" does not write to customers as the agent Ada.
func (m *Mailer) authorName(tx *store.Tx, id string) (string, error) {
	p, err := model.GetPerson(tx, id)
	if err != nil || p.Name == "" {
		return id, nil
	}
	if p.Kind != notify.KindCustomer {
		return p.Name, nil
	}
	taken := model.FoldName(p.Name) == model.FoldName(m.From.Name)
	if !taken {
		if taken, err = model.StaffNamed(tx, p.Name); err != nil {
			return "", err
		}
	}
	if !taken {
		return p.Name, nil
	}
	addr := ""
	if len(p.Emails) > 0 {
		addr = " <" + p.Emails[0] + ">"
	}
	return p.Name + addr + " (external)", nil
}

// unverifiedPerson is why a system or automated email must not go to
// person: they were made from an email whose From was not authenticated,
// and no agent has written in a conversation they opened since. The
// password reset is the exception: it can never be switched off (SPEC
// section 8), carries only our own words, and goes where it is asked for.
func unverifiedPerson(tx *store.Tx, person, template string) string {
	if person == "" || template == templates.PasswordReset {
		return ""
	}
	if p, err := model.GetPerson(tx, person); err == nil && p.Unverified {
		return "the address came from an unverified email and no agent has written to it yet"
	}
	return ""
}
