package intake

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

func threadFixture(t *testing.T) (*store.DB, *InboundStep, inbound.Meta) {
	t.Helper()
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, err := threading.LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "ann", Kind: notify.KindCustomer, Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Kind: model.External, Followers: []string{"ann"}, RootID: "root@help.test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	recv := &inbound.Receiver{DB: db, Clock: clk, Hostname: "mx.help.test"}
	rc, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: "ann@client.test", Rcpts: []string{"x@help.test"}, Proto: "ESMTP"},
		strings.NewReader("From: ann@client.test\r\nTo: x@help.test\r\nSubject: Re: hi\r\nMessage-ID: <r1@client.test>\r\nReferences: <root@help.test>\r\n\r\nthanks\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inbound.Load(context.Background(), db, rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	step := &InboundStep{DB: db,
		Classify: &Classifier{DB: db, Clock: clk, Guard: loopguard.New(loopguard.Options{})},
		Thread:   &Threader{Keyring: keys, Clock: clk, ReplyDomains: []string{"help.test"}, Policy: PolicyQuarantine}}
	return db, step, m
}

// A step that runs again after its commit (a pending index restored from
// a backup, an operator re-queueing) must not append the email twice.
func TestThreadStepTwiceAppendsOnce(t *testing.T) {
	db, step, m := threadFixture(t)
	for range 2 {
		res, err := step.Step(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Update(context.Background(), res.Apply); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	var e *journal.Entry
	_ = db.View(context.Background(), func(tx *store.Tx) error {
		ms, _ := model.Messages(tx, "c1", 10)
		n = len(ms)
		return nil
	})
	es, _ := journal.Query(context.Background(), db, journal.Filter{})
	e = &es[0]
	if n != 1 || !strings.HasPrefix(e.Action, "duplicate of message") {
		t.Errorf("%d messages; last action %q", n, e.Action)
	}
}
