package messaging

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// PostTx is Post inside the caller's transaction, for a caller that must
// commit the message together with its own records (the inbound pipeline:
// the message, its journal entry, the webhook job and the end of the
// stored email's processing in one commit). m.ID must be set. The caller
// publishes the returned notifications to the Hub once the commit is
// durable.
func PostTx(tx *store.Tx, m model.Message, now time.Time) (Posted, []model.Notification, error) {
	m.Created = now
	if err := model.AppendMessage(tx, &m); err != nil {
		return Posted{}, nil, err
	}
	rs, err := notify.Recipients(notify.Message{ID: m.ID, AuthorID: m.Author, ConversationID: m.Conversation}, model.View{Tx: tx})
	if errors.Is(err, notify.ErrCustomerInInternal) {
		return Posted{}, nil, &model.FieldError{Field: "author", Msg: "a customer cannot post in an internal conversation"}
	}
	if err != nil {
		return Posted{}, nil, fmt.Errorf("recipients: %w", err)
	}
	if m.Outsider {
		// An outsider's message is for the agents to see: no customer
		// hears of it (model.EmailWithheld).
		rs = slices.DeleteFunc(rs, func(r notify.Recipient) bool { return r.Kind == notify.KindCustomer })
	}
	var notes []model.Notification
	for _, r := range rs {
		n := model.Notification{Person: r.PersonID, Message: m.ID, Conversation: m.Conversation,
			Reason: string(r.Reason), Created: now}
		if err := model.AddNotification(tx, n); err != nil {
			return Posted{}, nil, err
		}
		notes = append(notes, n)
	}
	if rs == nil {
		rs = []notify.Recipient{}
	}
	return Posted{Message: m, Recipients: rs}, notes, nil
}
