package e2e

import (
	"context"
	"encoding/json"
	"net/mail"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/smtptest"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// seed writes into a stopped data folder what the web app would have:
// an agent, a customer (ann) following conversations c1..cN, and the
// agent's posts, each notifying ann and so holding an email for hold.
func seed(t *testing.T, dir string, hold time.Duration, posts map[string][]string) *store.DB {
	t.Helper()
	return seedWith(t, dir, hold, posts, "agent@example.test", []string{"ann"})
}

// seedWith is seed with the agent's address and the conversations'
// followers chosen: with the agent among them, a customer's reply
// notifies the agent.
func seedWith(t *testing.T, dir string, hold time.Duration, posts map[string][]string, agentEmail string, followers []string) *store.DB {
	t.Helper()
	db := openStore(t, dir)
	ctx := context.Background()
	err := db.Update(ctx, func(tx *store.Tx) error {
		for _, p := range []model.Person{
			{ID: "agent", Kind: notify.KindUser, Name: "Agent", Emails: []string{agentEmail}, Settings: notify.DefaultSettings()},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann", Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, p); err != nil {
				return err
			}
		}
		for conv := range posts {
			c := model.Conversation{ID: conv, Kind: model.External, Subject: "About " + conv, Followers: followers}
			if err := model.PutConversation(tx, &c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// A clock that steps a millisecond per post: message IDs sort by
	// creation time, and the holds end when the daemon's real clock says.
	clk := clock.NewFake(time.Now())
	q := &queue.Queue{Clock: clk, HoldFor: hold}
	svc := &messaging.Service{DB: db, Clock: clk, OnNotify: q.Hold, OnSeen: q.SeenAck, SeenPlan: q.SeenPlan}
	for conv, texts := range posts {
		for _, text := range texts {
			if _, err := svc.Post(ctx, model.Message{Conversation: conv, Author: "agent", Channel: model.ChannelWeb, Text: text}); err != nil {
				t.Fatal(err)
			}
			clk.Advance(time.Millisecond)
		}
	}
	return db
}

// smtpSink is the tests' fake relay (internal/smtptest).
type smtpSink struct {
	*smtptest.Server
	addr string
}

type sinkMail struct {
	from, to string
	msg      *mail.Message
	raw      string
}

func newSMTPSink(t *testing.T) *smtpSink {
	s := smtptest.Start(t, smtptest.Options{Domain: "relay.test"})
	return &smtpSink{Server: s, addr: s.Addr}
}

// wait returns once n emails arrived, or fails the test.
func (s *smtpSink) wait(t *testing.T, n int) []sinkMail {
	t.Helper()
	return sinkMails(t, s.Wait(t, n, lineTimeout))
}

// sinkMails parses what the relay got.
func sinkMails(t *testing.T, ms []smtptest.Mail) []sinkMail {
	t.Helper()
	var out []sinkMail
	for _, m := range ms {
		msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
		if err != nil {
			t.Fatalf("the relay got an email that does not parse: %v\n%s", err, m.Data)
		}
		to := ""
		if len(m.To) > 0 {
			to = m.To[len(m.To)-1]
		}
		out = append(out, sinkMail{from: m.From, to: to, msg: msg, raw: string(m.Data)})
	}
	return out
}

func outStatuses(t *testing.T, dir string) []string {
	r := runCLI(t, nil, nil, "log", "--json", "--data", dir, "--direction", "out")
	if r.Code != 0 {
		t.Fatalf("deskmail log: %s", r.Stderr)
	}
	var out []string
	for _, e := range parseLog(t, r.Stdout) {
		out = append(out, e.Status)
	}
	return out
}

func TestRelayDeferredThenSentOneEmailThatThreadsBack(t *testing.T) {
	dir := t.TempDir()
	sink := newSMTPSink(t)
	sink.Answer = func(n int) error {
		if n == 1 {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "greylisted"}
		}
		return nil
	}
	seed(t, dir, time.Second, map[string][]string{"c1": {"one", "two", "three"}}).Close()
	d := startDaemon(t, dir, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure", "--retry-base", "1s")
	got := sink.wait(t, 1)[0]
	if got.to != "ann@client.test" || !strings.HasPrefix(got.from, "bounce+") || !strings.HasSuffix(got.from, "@example.test") {
		t.Errorf("envelope %s -> %s", got.from, got.to)
	}
	for _, s := range []string{"one", "two", "three"} {
		if !strings.Contains(got.raw, s) {
			t.Errorf("the one email does not list %q", s)
		}
	}
	h := got.msg.Header
	for _, k := range []string{"Message-ID", "In-Reply-To", "References", "X-Deskmail-Loop", "Reply-To"} {
		if h.Get(k) == "" {
			t.Errorf("no %s header", k)
		}
	}
	if !strings.HasPrefix(h.Get("Subject"), "[#") {
		t.Errorf("Subject %q has no tag", h.Get("Subject"))
	}
	kr, err := threading.LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := mail.ParseAddress(h.Get("Reply-To"))
	if tok, err := kr.ParseReplyAddress(rt.Address, []string{"example.test"}); err != nil || tok.Conversation != "c1" || tok.Recipient != "ann" {
		t.Errorf("Reply-To %q does not thread back: %+v %v", h.Get("Reply-To"), tok, err)
	}
	d.stop()
	want := []string{"held", "sending", "deferred", "sending", "sent"}
	if got := outStatuses(t, dir); !slices.Equal(got, want) {
		t.Errorf("log --direction out: %q, want %q", got, want)
	}
}

func TestQueueSurvivesSIGKILL(t *testing.T) {
	dir := t.TempDir()
	db := seed(t, dir, time.Hour, map[string][]string{"c1": {"a"}, "c2": {"b"}, "c3": {"c"}})
	// c3's email was being sent when the daemon died: lease it by hand.
	kr, err := threading.LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	q := &queue.Queue{Clock: clock.Real{}}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		jobs, err := queue.List(tx, 10)
		for _, j := range jobs {
			if j.Conversation == "c3" {
				if _, err := q.Retry(tx, j.ID); err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
		_, err = q.Lease(tx, time.Now(), 10, &queue.Mailer{Keyring: kr, Domain: "example.test"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	d := startDaemon(t, dir)
	d.waitLog(0, "OUTBOUND EMAIL IS CAPTURED")
	// The interrupted email is sent again at once (the one duplicate a
	// crash can cause), into the capture folder.
	waitfor.Until(t, lineTimeout, "one file is captured", func() bool {
		files, _ := filepath.Glob(filepath.Join(dir, "outbox-capture", "*.eml"))
		return len(files) == 1
	})
	// The capture is written before the send's completion commits: wait
	// for the sent job to leave the queue (on PostgreSQL under load the
	// list read at once still showed it).
	var before []queue.Job
	waitfor.Until(t, lineTimeout, "the queue lists the 2 held jobs", func() bool {
		before = queueList(t, dir)
		return len(before) == 2
	})
	d.kill()
	if after := queueList(t, dir); !slices.EqualFunc(before, after, sameJob) {
		t.Errorf("offline after SIGKILL: %+v, want %+v", after, before)
	}
	startDaemon(t, dir)
	if after := queueList(t, dir); !slices.EqualFunc(before, after, sameJob) {
		t.Errorf("after restart: %+v, want %+v", after, before)
	}
	if r := runCLI(t, nil, nil, "queue", "retry", before[0].ID, "--data", dir); r.Code != 0 {
		t.Fatalf("queue retry: %s", r.Stderr)
	}
	if r := runCLI(t, nil, nil, "queue", "cancel", before[1].ID, "--data", dir); r.Code != 0 || !strings.Contains(r.Stdout, "cancelled") {
		t.Fatalf("queue cancel: %q %s", r.Stdout, r.Stderr)
	}
	if r := runCLI(t, nil, nil, "queue", "show", before[0].ID, "--data", dir); r.Code != 0 || !strings.Contains(r.Stdout, "held") {
		t.Errorf("queue show: %q %s", r.Stdout, r.Stderr)
	}
}

func sameJob(a, b queue.Job) bool { return a.ID == b.ID && a.State == b.State && a.Due.Equal(b.Due) }

func queueList(t *testing.T, dir string) []queue.Job {
	t.Helper()
	r := runCLI(t, nil, nil, "queue", "list", "--json", "--data", dir)
	if r.Code != 0 {
		t.Fatalf("queue list: %s", r.Stderr)
	}
	var jobs []queue.Job
	if err := json.Unmarshal([]byte(r.Stdout), &jobs); err != nil {
		t.Fatalf("queue list --json: %v\n%s", err, r.Stdout)
	}
	return jobs
}
