package center

import (
	"bytes"
	"context"
	"fmt"
	"net/mail"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/smtptest"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/mta"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// sink is the tests' fake relay (internal/smtptest).
type sink struct{ *smtptest.Server }

type sunk struct {
	to  string
	msg *mail.Message
	raw []byte
}

// got lists what the relay took, one entry per recipient.
func (s *sink) got() []sunk {
	var out []sunk
	for _, m := range s.Mails() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			panic(fmt.Sprintf("the relay got an email that does not parse: %v", err))
		}
		for _, to := range m.To {
			out = append(out, sunk{to: to, msg: msg, raw: m.Data})
		}
	}
	return out
}

type fixture struct {
	t      *testing.T
	db     *store.DB
	clk    *clock.Fake
	sink   *sink
	worker *queue.Worker
	center *Service
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, sink: &sink{smtptest.Start(t, smtptest.Options{Domain: "relay.test"})}, clk: clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))}
	var err error
	if f.db, err = store.Open(t.TempDir(), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	kr, err := threading.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	mailer := &queue.Mailer{Keyring: kr, Domain: "help.example.test",
		From: mail.Address{Name: "Example Helpdesk", Address: "help@example.test"}, Intro: BuiltinText}
	relay := &mta.Relay{Addr: f.sink.Addr, Hostname: "deskmail.test", Insecure: true}
	t.Cleanup(relay.Close)
	q := &queue.Queue{Clock: f.clk, HoldFor: time.Minute}
	f.worker = &queue.Worker{DB: f.db, Queue: q, Composer: mailer, Transport: relay, Clock: f.clk}
	msgs := &messaging.Service{DB: f.db, Clock: f.clk, Hub: messaging.NewHub(), OnNotify: q.Hold, OnSeen: q.SeenAck, SeenPlan: q.SeenPlan}
	f.center = &Service{DB: f.db, Clock: f.clk, Mailer: mailer, Messaging: msgs}
	return f
}

func (f *fixture) update(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.db.Update(context.Background(), fn); err != nil {
		f.t.Fatal(err)
	}
}

// helpdesk: users ann (defaults), bob (new-member emails on), carl
// (assignment emails off, does not accept invitations); customer cat;
// project p1 followed by ann and bob; item i1 with followers ann, cat.
func (f *fixture) helpdesk() {
	f.update(func(tx *store.Tx) error {
		user := func(id, name string, edit func(*notify.Settings)) model.Person {
			s := notify.DefaultSettings()
			if edit != nil {
				edit(&s)
			}
			return model.Person{ID: id, Kind: notify.KindUser, Name: name, Emails: []string{id + "@staff.test"}, Settings: s}
		}
		for _, p := range []model.Person{
			user("ann", "Ann Agent", nil),
			user("bob", "Bob Boss", func(s *notify.Settings) { s.NewMembers = true }),
			user("carl", "Carl", func(s *notify.Settings) { s.AssignmentChanges, s.AcceptInvitations = false, false }),
			{ID: "cat", Kind: notify.KindCustomer, Name: "<script>alert(1)</script>", Emails: []string{"cat@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, p); err != nil {
				return err
			}
		}
		if err := model.PutProject(tx, model.Project{ID: "p1", Name: "Support", Followers: []string{"ann", "bob"}}); err != nil {
			return err
		}
		return model.PutItem(tx, model.Item{ID: "i1", Project: "p1", Title: "Printer", Followers: []string{"ann", "cat"}, Assignees: []string{"ann"}})
	})
}

func (f *fixture) handle(ev Event) Outcome {
	f.t.Helper()
	out, err := f.center.Handle(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("handle %s: %v", ev.Type, err)
	}
	return out
}

// deliver runs the worker until nothing is due.
func (f *fixture) deliver() {
	f.t.Helper()
	for range 10 {
		n, err := f.worker.ProcessDue(context.Background())
		if err != nil {
			f.t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}
