package intake

import (
	"context"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// A conversation opened by an email has its creation time (issue 22: it
// was the zero time in GET /v1/conversations/{id}).
func TestConversationFromEmailHasCreationTime(t *testing.T) {
	db, step, _ := threadFixture(t)
	step.Thread.SupportAddresses = []string{"support@help.test"}
	recv := &inbound.Receiver{DB: db, Clock: step.Classify.Clock, Hostname: "mx.help.test"}
	rc, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: "new@client.test", Rcpts: []string{"support@help.test"}, Proto: "ESMTP"},
		strings.NewReader("From: New <new@client.test>\r\nTo: support@help.test\r\nSubject: Hello\r\nMessage-ID: <n1@client.test>\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inbound.Load(db, rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	res, err := step.Step(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), res.Apply); err != nil {
		t.Fatal(err)
	}
	es, _ := journal.Query(db, journal.Filter{Direction: journal.In})
	var convs []model.Conversation
	_ = db.View(func(tx *store.Tx) error {
		for _, e := range es {
			if e.ID != m.JournalID {
				continue
			}
			if c, err := model.GetConversation(tx, e.Conversation); err == nil {
				convs = append(convs, c)
			}
		}
		return nil
	})
	if len(convs) != 1 || !convs[0].Created.Equal(step.Classify.Clock.Now()) {
		t.Fatalf("conversations %+v, want one created at %v", convs, step.Classify.Clock.Now())
	}
}
