package intake

import (
	"context"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// runStep processes m and returns its journal entry.
func runStep(t *testing.T, db *store.DB, step *InboundStep, m inbound.Meta) journal.Entry {
	t.Helper()
	res, err := step.Step(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(context.Background(), res.Apply); err != nil {
		t.Fatal(err)
	}
	return entryOf(t, db, m.JournalID)
}

// entryOf reads the journal entry id.
func entryOf(t *testing.T, db *store.DB, id string) journal.Entry {
	t.Helper()
	es, err := journal.Query(context.Background(), db, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no journal entry %s", id)
	return journal.Entry{}
}

// The log's detail names the author by name and address; the ids stay in
// the entry (for --json): person, messages, conversation.
func TestDetailNamesTheAuthor(t *testing.T) {
	db, step, m := threadFixture(t)
	// The fixture's customer, now with a name.
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		return model.PutPerson(tx, model.Person{ID: "ann", Kind: notify.KindCustomer, Name: "Ann Lee",
			Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()})
	}); err != nil {
		t.Fatal(err)
	}
	e := runStep(t, db, step, m)
	if len(e.Messages) != 1 || e.Person != "ann" || e.Conversation != "c1" {
		t.Fatalf("entry ids: person %q, messages %v, conversation %q", e.Person, e.Messages, e.Conversation)
	}
	want := "appended to conversation c1 by references as message " + e.Messages[0] + " from Ann Lee <ann@client.test>, "
	if !strings.HasPrefix(e.Action, want) {
		t.Errorf("action %q, want it to begin %q", e.Action, want)
	}
}

func TestDetailNamesANewCustomer(t *testing.T) {
	db, step, _ := threadFixture(t)
	step.Thread.SupportAddresses = []string{"support@help.test"}
	recv := &inbound.Receiver{DB: db, Clock: step.Thread.Clock, Hostname: "mx.help.test"}
	rc, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: "bea@client.test", Rcpts: []string{"support@help.test"}, Proto: "ESMTP"},
		strings.NewReader("From: Bea Stone <bea@client.test>\r\nTo: support@help.test\r\nSubject: Printer\r\nMessage-ID: <b1@client.test>\r\n\r\non fire\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inbound.Load(context.Background(), db, rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	e := runStep(t, db, step, m)
	if e.Person == "" || len(e.Messages) != 1 || e.Conversation == "" {
		t.Fatalf("entry ids: person %q, messages %v, conversation %q", e.Person, e.Messages, e.Conversation)
	}
	for _, w := range []string{"created conversation " + e.Conversation, "as message " + e.Messages[0],
		"from Bea Stone <bea@client.test>", "a new customer", "sent to support address support@help.test"} {
		if !strings.Contains(e.Action, w) {
			t.Errorf("action %q lacks %q", e.Action, w)
		}
	}
	if strings.Contains(e.Action, e.Person) {
		t.Errorf("action %q shows the person's id %s instead of a name", e.Action, e.Person)
	}
}
