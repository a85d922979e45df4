package center

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/mail"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/mta"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// sink is a go-smtp server on 127.0.0.1:0 standing in for the relay.
type sink struct {
	mu    sync.Mutex
	mails []sunk
}

type sunk struct {
	to  string
	msg *mail.Message
	raw []byte
}

func (s *sink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s}, nil }

type sinkSession struct {
	s  *sink
	to []string
}

func (ss *sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	for _, to := range ss.to {
		ss.s.mails = append(ss.s.mails, sunk{to: to, msg: m, raw: raw})
	}
	return nil
}
func (ss *sinkSession) Reset()        { ss.to = nil }
func (ss *sinkSession) Logout() error { return nil }

func (s *sink) got() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.mails...)
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
	f := &fixture{t: t, sink: &sink{}, clk: clock.NewFake(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))}
	var err error
	if f.db, err = store.Open(t.TempDir(), store.Options{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.db.Close() })
	srv := smtp.NewServer(f.sink)
	srv.Domain = "relay.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	kr, err := threading.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	mailer := &queue.Mailer{Keyring: kr, Domain: "help.example.test",
		From: mail.Address{Name: "Example Helpdesk", Address: "help@example.test"}, Intro: BuiltinText}
	relay := &mta.Relay{Addr: l.Addr().String(), Hostname: "deskmail.test", Insecure: true}
	t.Cleanup(relay.Close)
	q := &queue.Queue{Clock: f.clk, HoldFor: time.Minute}
	f.worker = &queue.Worker{DB: f.db, Queue: q, Composer: mailer, Transport: relay, Clock: f.clk}
	msgs := &messaging.Service{DB: f.db, Clock: f.clk, Hub: messaging.NewHub(), OnNotify: q.Hold, OnSeen: q.SeenAck}
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
