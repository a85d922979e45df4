package queue

import (
	"context"
	"errors"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// env is a data folder with an agent, a customer (ann) following
// conversation c1, the hold queue hooked into messaging, and a worker
// delivering to a recording transport.
type env struct {
	t   testing.TB
	db  *store.DB
	clk *clock.Fake
	q   *Queue
	svc *messaging.Service
	w   *Worker
	tr  *recorder
	kr  *threading.Keyring
}

func newEnv(t testing.TB) *env {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newEnvOn(t, db)
}

// newEnvOn is newEnv on the store db (PostgreSQL: pgtest.Open).
func newEnvOn(t testing.TB, db *store.DB) *env {
	t.Helper()
	var err error
	e := &env{t: t, db: db, clk: clock.NewFake(t0), tr: &recorder{}}
	e.kr, err = threading.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e.q = &Queue{Clock: e.clk, Backoff: Backoff{Base: time.Minute, Max: time.Hour, Jitter: 0.2, Rand: func() float64 { return 0.5 }}}
	e.svc = &messaging.Service{DB: db, Clock: e.clk, OnNotify: e.q.Hold, OnSeen: e.q.SeenAck, SeenPlan: e.q.SeenPlan}
	mailer := &Mailer{Keyring: e.kr, Domain: "help.example.test",
		From:   mail.Address{Name: "Example Help", Address: "help@help.example.test"},
		Marker: func(id string) string { return "v1.marker-of-" + id }, MarkerHeader: "X-Deskmail-Loop"}
	e.w = &Worker{DB: db, Queue: e.q, Composer: mailer, Transport: e.tr, Clock: e.clk}
	e.update(func(tx *store.Tx) error {
		for _, p := range []model.Person{
			{ID: "agent", Kind: notify.KindUser, Name: "Agent Smith", Emails: []string{"agent@help.example.test"}, Settings: notify.DefaultSettings()},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann Ågren", Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, p); err != nil {
				return err
			}
		}
		if err := model.PutProject(tx, model.Project{ID: "p1", Name: "Support"}); err != nil {
			return err
		}
		if err := model.PutItem(tx, model.Item{ID: "i1", Project: "p1", Title: "Printer", Followers: []string{"agent"}}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Item: "i1", Kind: model.External,
			Subject: "Printer on fire", Followers: []string{"ann"}})
	})
	return e
}

func (e *env) update(fn func(tx *store.Tx) error) {
	e.t.Helper()
	if err := e.db.Update(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) view(fn func(tx *store.Tx) error) {
	e.t.Helper()
	if err := e.db.View(context.Background(), fn); err != nil {
		e.t.Fatal(err)
	}
}

// post has the agent write text in c1 (ann is notified), one second
// after the previous post so message IDs sort in posting order.
func (e *env) post(text string) string {
	e.t.Helper()
	e.clk.Advance(time.Second)
	p, err := e.svc.Post(context.Background(), model.Message{Conversation: "c1", Author: "agent", Channel: model.ChannelWeb, Text: text})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Message.ID
}

func (e *env) process() int {
	e.t.Helper()
	n, err := e.w.ProcessDue(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) status(msg, person string) string {
	var s string
	e.view(func(tx *store.Tx) error { s = EmailStatus(tx, msg, person); return nil })
	return s
}

// statuses lists the outgoing journal's statuses (with reasons) in order.
func (e *env) statuses() []string {
	e.t.Helper()
	es, err := journal.Query(context.Background(), e.db, journal.Filter{Direction: journal.Out})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, x := range es {
		s := x.Status
		if x.Status == journal.StatusCancelled || x.Status == journal.StatusSuppressed {
			s += " (" + strings.SplitN(x.Reason, " ", 2)[0] + ")"
		}
		out = append(out, s)
	}
	return out
}

type sent struct {
	from, to string
	msg      *mail.Message
	body     string
}

// recorder is a Transport that keeps what it is given; fail, if set,
// decides each attempt's error.
type recorder struct {
	mu   sync.Mutex
	sent []sent
	fail func(n int) error
	n    int
}

func (r *recorder) Deliver(_ context.Context, from, to string, msg []byte) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n++
	if r.fail != nil {
		if err := r.fail(r.n); err != nil {
			return Result{}, err
		}
	}
	m, err := mail.ReadMessage(strings.NewReader(string(msg)))
	if err != nil {
		return Result{}, Permanent(err)
	}
	r.sent = append(r.sent, sent{from: from, to: to, msg: m, body: string(msg)})
	return Result{Reply: "250 2.0.0 Ok"}, nil
}

func (r *recorder) emails() []sent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]sent(nil), r.sent...)
}

var errTemp = errors.New("421 4.3.0 try again later")
