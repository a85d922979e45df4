package console

import (
	"testing"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// TestUnverifiedShown: an email whose sender is not authenticated is
// marked "unverified" on the log, its entry and its message's page, and
// an outsider's message says so (issue 21, items 3 and 5).
func TestUnverifiedShown(t *testing.T) {
	f := newFixture(t)
	var entry journal.Entry
	f.update(func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "target", Kind: notify.KindCustomer, Name: "Target",
			Emails: []string{"target@victim.test"}, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		if err := model.PutConversation(tx, &model.Conversation{ID: "c", Kind: model.External, OpenedUnverified: "target"}); err != nil {
			return err
		}
		m := model.Message{ID: "m1", Conversation: "c", Author: "target", Channel: model.ChannelEmail, Text: "Pay now",
			Created: f.clk.Now(), Unverified: true, Verification: "no aligned SPF or DKIM pass: spf=pass smtp.mailfrom=evil.test", Outsider: true}
		if err := model.AppendMessage(tx, &m); err != nil {
			return err
		}
		entry = journal.Entry{Time: f.clk.Now(), Direction: journal.In, Status: journal.StatusReceived, Class: "human",
			EnvelopeFrom: "mallory@evil.test", Subject: "Invoice", Auth: "spf=pass smtp.mailfrom=evil.test; dkim=none; dmarc=none",
			Unverified: true, Conversation: "c", Messages: []string{"m1"}}
		return journal.Append(tx, &entry)
	})
	c, _ := f.session("victor")
	_, body := f.get(c, "/log")
	contains(t, body, `state-unverified">unverified<`)
	_, body = f.get(c, "/log/"+entry.ID)
	contains(t, body, "unverified</strong>: the From address is not authenticated")
	_, body = f.get(c, "/messages/m1")
	contains(t, body, "unverified</strong>: no aligned SPF or DKIM pass", "outsider</strong>")
}
