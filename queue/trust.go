package queue

import (
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
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
