package intake

import (
	"testing"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// A conversation opened by an email has its creation time (issue 22: it
// was the zero time in GET /v1/conversations/{id}).
func TestConversationFromEmailHasCreationTime(t *testing.T) {
	db, step, _ := threadFixture(t)
	step.Thread.SupportAddresses = []string{"support@help.test"}
	m := receive(t, db, step, inbound.Envelope{MailFrom: "new@client.test", Rcpts: []string{"support@help.test"}, Proto: "ESMTP"},
		"From: New <new@client.test>\r\nTo: support@help.test\r\nSubject: Hello\r\nMessage-ID: <n1@client.test>\r\n\r\nhi\r\n")
	e := runStep(t, db, step, m)
	var c model.Conversation
	err := db.View(func(tx *store.Tx) error {
		var err error
		c, err = model.GetConversation(tx, e.Conversation)
		return err
	})
	if err != nil || !c.Created.Equal(step.Classify.Clock.Now()) {
		t.Fatalf("conversation %+v (%v), want it created at %v", c, err, step.Classify.Clock.Now())
	}
}
