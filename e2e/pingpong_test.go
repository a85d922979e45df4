package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// responder is a scripted auto-responder on 127.0.0.1:0: every email it
// receives (as deskmail's relay) is answered at once, from the address it
// was sent to, to its Reply-To, quoting its Message-ID, with a short text
// that carries nothing automatic. Two robots behind it, both customers in
// one conversation, answer each other through deskmail for ever unless
// deskmail stops them. It answers at most maxAnswers, so a broken cap
// fails the test instead of running away.
type responder struct {
	addr     string
	target   string // deskmail's SMTP address
	mu       sync.Mutex
	received []sinkMail
	answered int
	inFlight sync.WaitGroup
	ctx      context.Context
}

const maxAnswers = 40

func newResponder(t *testing.T, target string) *responder {
	ctx, cancel := context.WithCancel(context.Background())
	r := &responder{target: target, ctx: ctx}
	srv := smtp.NewServer(r)
	srv.Domain = "robots.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	go srv.Serve(l)
	t.Cleanup(func() {
		cancel()
		srv.Close()
		r.inFlight.Wait()
	})
	return r
}

func (r *responder) NewSession(*smtp.Conn) (smtp.Session, error) { return &responderSession{r: r}, nil }

type responderSession struct {
	r        *responder
	from, to string
}

func (s *responderSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *responderSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *responderSession) Reset()                                      {}
func (s *responderSession) Logout() error                               { return nil }
func (s *responderSession) Data(rd io.Reader) error {
	b, err := io.ReadAll(rd)
	if err != nil {
		return err
	}
	m, err := mail.ReadMessage(strings.NewReader(string(b)))
	if err != nil {
		return err
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received = append(r.received, sinkMail{from: s.from, to: s.to, msg: m, raw: string(b)})
	if r.answered >= maxAnswers {
		return nil
	}
	r.answered++
	n := r.answered
	robot := strings.ToLower(s.to)
	replyTo := m.Header.Get("Reply-To")
	if a, err := mail.ParseAddress(replyTo); err == nil {
		replyTo = a.Address
	}
	inReplyTo := m.Header.Get("Message-ID")
	subject := m.Header.Get("Subject")
	target := r.target
	r.inFlight.Add(1)
	go func() {
		// Not inside the session: the relay's DATA gets its 250 first,
		// as with any real auto-responder.
		defer r.inFlight.Done()
		if r.ctx.Err() != nil {
			return
		}
		answer := fmt.Sprintf("From: %s\nTo: %s\nSubject: Re: %s\nMessage-ID: <answer-%d@robots.test>\nIn-Reply-To: %s\nReferences: %s\nDate: %s\n\nThanks, noted. We will look into it.\n",
			robot, replyTo, subject, n, inReplyTo, inReplyTo, time.Now().Format(time.RFC1123Z))
		c, err := dialSMTP(target)
		if err != nil {
			return
		}
		defer c.Close()
		_ = send(c, robot, []string{replyTo}, []byte(strings.ReplaceAll(answer, "\n", "\r\n")))
		_ = c.Quit()
	}()
	return nil
}

func (r *responder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.received)
}

// TestPingPongStops runs the loop that hurts: two outside auto-responders
// in one conversation, each answering every notification email with a
// message that looks human. The conversation cap holds the inbound mail
// of a robot past its cap; with that cap out of the way, the per-recipient
// cap stops the emails instead. Either way the loop ends after a few
// messages on each side, and the journal says why.
func TestPingPongStops(t *testing.T) {
	t.Run("conversation cap holds the inbound", func(t *testing.T) {
		p, r := pingPongSetup(t, "--loop-conversation-cap", "3", "--loop-recipient-cap", "1000")
		held := waitEntry(t, p, func(e journal.Entry) bool {
			return e.Direction == journal.In && strings.HasPrefix(e.Action, "held")
		})
		if held.Class != "looping" || len(held.Reasons) == 0 || !strings.Contains(held.Reasons[0], "ping-pong cap: 4 messages from robot-a@robots.test") {
			t.Fatalf("held entry: class %s, reasons %q", held.Class, held.Reasons)
		}
		quiesce(t, p, r.inFlight.Wait)
		// a1 b1 a2 b2 a3 b3 a4(held): three emails to each robot.
		if got := r.count(); got != 6 {
			t.Errorf("the robots received %d emails, want 6 (3 each)", got)
		}
		if n := len(p.messages(t, "pp")); n != 6 {
			t.Errorf("the conversation has %d messages, want 6 (the held one is not appended)", n)
		}
	})
	t.Run("recipient cap stops the emails", func(t *testing.T) {
		p, r := pingPongSetup(t, "--loop-conversation-cap", "1000", "--loop-recipient-cap", "2")
		capped := waitEntry(t, p, func(e journal.Entry) bool {
			return e.Direction == journal.Out && e.Status == journal.StatusCancelled && strings.Contains(e.Reason, "per-recipient cap")
		})
		if !strings.Contains(capped.Reason, "2 automatic emails to robot-b@robots.test within 1h0m0s") {
			t.Errorf("cancelled entry reason %q", capped.Reason)
		}
		quiesce(t, p, r.inFlight.Wait)
		// a1 b1 a2 b2 a3: the third email to robot-b is not sent.
		if got := r.count(); got != 4 {
			t.Errorf("the robots received %d emails, want 4 (2 each)", got)
		}
	})
}

// pingPongSetup starts deskmail relaying to the responder, seeds an
// external conversation "pp" followed by two robot customers, and sends
// robot A's first message into it.
func pingPongSetup(t *testing.T, flags ...string) (*inProcess, *responder) {
	t.Helper()
	// The responder needs deskmail's SMTP address and deskmail its
	// relay's: listen first, then point the responder at deskmail.
	r := newResponder(t, "")
	args := append([]string{"--outbound", "relay", "--relay", r.addr, "--relay-insecure", "--hold", "5ms"}, flags...)
	// The robots pass SPF: an unverified author's message is emailed to
	// no customer (docs/THREADING.md, "Who is believed"), which would end
	// the loop before the caps are reached.
	p := startInProcess(t, fakeDNS{"robots.test": {"v=spf1 ip4:127.0.0.1 -all"}}, args...)
	r.mu.Lock()
	r.target = p.SMTP
	r.mu.Unlock()
	p.update(t, func(tx *store.Tx) error {
		for _, per := range []model.Person{
			{ID: "robota", Kind: notify.KindCustomer, Name: "Desk A", Emails: []string{"robot-a@robots.test"}, Settings: notify.DefaultSettings()},
			{ID: "robotb", Kind: notify.KindCustomer, Name: "Desk B", Emails: []string{"robot-b@robots.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, per); err != nil {
				return err
			}
		}
		c := &model.Conversation{ID: "pp", Kind: model.External, Subject: "Order 4711", Followers: []string{"robota", "robotb"},
			RootID: "root-pp@example.test", Created: time.Now()}
		if err := model.PutConversation(tx, c); err != nil {
			return err
		}
		return model.IndexMessageID(tx, "root-pp@example.test", "pp")
	})
	p.send(t, "robot-a@robots.test", []string{"support@example.test"}, email("a1@robots.test", []string{
		"From: Desk A <robot-a@robots.test>", "To: support@example.test", "Subject: Re: Order 4711",
		"In-Reply-To: <root-pp@example.test>", "References: <root-pp@example.test>"}, "Please confirm the order."))
	return p, r
}

// waitEntry polls the journal until an entry matches.
func waitEntry(t *testing.T, p *inProcess, match func(journal.Entry) bool) journal.Entry {
	t.Helper()
	deadline := time.Now().Add(lineTimeout)
	for {
		es, err := journal.Query(context.Background(), p.d.DB, journal.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if match(e) {
				return e
			}
		}
		if time.Now().After(deadline) {
			var lines []string
			for _, e := range es {
				lines = append(lines, fmt.Sprintf("%s %s %s %s %q", e.Direction, e.Status, e.Class, e.Action, e.Reason))
			}
			t.Fatalf("no matching journal entry within %v; journal:\n%s", lineTimeout, strings.Join(lines, "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// quiesce waits until nothing is left moving: nothing in flight (each of
// inFlight returns when its side has nothing under way), every inbound
// email processed, every outgoing email in a final state. Then the counts
// the test reads are final.
func quiesce(t *testing.T, p *inProcess, inFlight ...func()) {
	t.Helper()
	waitfor.Until(t, lineTimeout, "no journal entry is in progress", func() bool {
		for _, wait := range inFlight {
			wait()
		}
		busy := 0
		es, err := journal.Query(context.Background(), p.d.DB, journal.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]string{} // outgoing email -> its latest status
		for _, e := range es {
			switch {
			case e.Direction == journal.In && e.Action == "":
				busy++
			case e.Direction == journal.Out && e.Job != "":
				last[e.Job] = e.Status
			}
		}
		for _, st := range last {
			switch st {
			case journal.StatusHeld, journal.StatusQueued, journal.StatusSending, journal.StatusDeferred:
				busy++
			}
		}
		return busy == 0
	})
}
