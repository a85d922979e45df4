package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
	"github.com/deskmail/deskmail/webhook"
)

// helpdesk seeds the model every threading scenario starts from: agent u1
// (corp.test, whose SPF does not list 127.0.0.1) and agent u2 (relay.test,
// whose SPF does), customers ann and bob, an external conversation c1
// (ann and u1) and an internal one c2 (u1 and u2).
func helpdesk(t *testing.T, p *inProcess) (tag string) {
	now := time.Now()
	p.update(t, func(tx *store.Tx) error {
		for _, per := range []model.Person{
			{ID: "u1", Kind: notify.KindUser, Name: "Agent One", Emails: []string{"agent@corp.test"}, Settings: notify.DefaultSettings()},
			{ID: "u2", Kind: notify.KindUser, Name: "Agent Two", Emails: []string{"two@relay.test"}, Settings: notify.DefaultSettings()},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann", Emails: []string{"Ann@Client.test"}, Settings: notify.DefaultSettings()},
			{ID: "bob", Kind: notify.KindCustomer, Name: "Bob", Emails: []string{"bob@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, per); err != nil {
				return err
			}
		}
		c1 := &model.Conversation{ID: "c1", Kind: model.External, Subject: "Printer on fire", Followers: []string{"ann", "u1"}, RootID: "root-c1@example.test", Created: now}
		c2 := &model.Conversation{ID: "c2", Kind: model.Internal, Subject: "About Ann", Followers: []string{"u1", "u2"}, RootID: "root-c2@example.test", Created: now}
		if err := model.PutConversation(tx, c1); err != nil {
			return err
		}
		tag = c1.Tag
		return model.PutConversation(tx, c2)
	})
	return tag
}

var dns = fakeDNS{
	"corp.test":         {"v=spf1 ip4:192.0.2.0/24 -all"},
	"_dmarc.corp.test":  {"v=DMARC1; p=reject"},
	"relay.test":        {"v=spf1 ip4:127.0.0.1 -all"},
	"_dmarc.relay.test": {"v=DMARC1; p=reject"},
}

func TestThreadingOverSMTP(t *testing.T) {
	var mu sync.Mutex
	var hooks []webhook.Event
	var badSig int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if !webhook.Verify([]byte("hook-secret"), body, r.Header.Get(webhook.SignatureHeader), time.Now(), time.Minute) {
			badSig++
		}
		var e webhook.Event
		_ = json.Unmarshal(body, &e)
		hooks = append(hooks, e)
	}))
	defer srv.Close()
	p := startInProcess(t, dns, "--webhook-url", srv.URL, "--webhook-secret", "hook-secret")
	tag := helpdesk(t, p)
	keys, err := threading.LoadOrCreateKeyring(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	annReply, _ := keys.ReplyAddress("c1", "ann", "example.test")

	t.Run("reply to a token address lands in its conversation", func(t *testing.T) {
		p.send(t, "ann@client.test", []string{strings.ToUpper(annReply)}, email("t1@client.test", []string{
			"From: Ann <ann@client.test>", "To: " + annReply, "Subject: Re: Printer on fire",
			"MIME-Version: 1.0", `Content-Type: multipart/mixed; boundary="b"`}, `--b
Content-Type: text/plain; charset=utf-8

It is still burning.

On Wed, 25 Nov 2026 at 11:00, Agent One <agent@corp.test> wrote:
> Have you tried turning it off?
--b
Content-Type: image/png
Content-Disposition: attachment; filename="fire.png"
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--b--`))
		e := p.entry(t, "t1@client.test")
		if e.Conversation != "c1" || e.ThreadBy != "token" || !strings.Contains(e.Action, "appended to conversation c1 by token") {
			t.Fatalf("journal: conversation=%q by=%q action=%q", e.Conversation, e.ThreadBy, e.Action)
		}
		if !strings.Contains(e.Auth, "spf=none") || !strings.Contains(e.Auth, "dmarc=") {
			t.Errorf("journal auth = %q", e.Auth)
		}
		ms := p.messages(t, "c1")
		if len(ms) != 1 {
			t.Fatalf("%d messages in c1", len(ms))
		}
		m := ms[0]
		if m.Author != "ann" || m.Channel != model.ChannelEmail || m.Text != "It is still burning." || m.MessageID != "t1@client.test" || m.Original == "" {
			t.Errorf("message %+v", m)
		}
		if len(m.Attachments) != 1 || m.Attachments[0].Name != "fire.png" || m.Attachments[0].ContentType != "image/png" || m.Attachments[0].Size != 8 {
			t.Errorf("attachments %+v", m.Attachments)
		}
	})

	// A client that ignores Reply-To answers the From of our email, the
	// mail-from address: SMTP accepts it, and References thread it.
	t.Run("reply carrying only References lands there too", func(t *testing.T) {
		p.send(t, "ann@client.test", []string{"notifications@example.test"}, email("t2@client.test", []string{
			"From: ann@client.test", "To: notifications@example.test", "Subject: more",
			"References: <unknown@elsewhere.test> <root-c1@example.test>"}, "And the paper tray too."))
		e := p.entry(t, "t2@client.test")
		if e.Conversation != "c1" || e.ThreadBy != "references" {
			t.Fatalf("journal: conversation=%q by=%q action=%q", e.Conversation, e.ThreadBy, e.Action)
		}
	})

	t.Run("forged token is refused and journaled", func(t *testing.T) {
		local, dom, _ := strings.Cut(annReply, "@")
		forged := local[:len(local)-5] + flip(local[len(local)-5:len(local)-4]) + local[len(local)-4:] + "@" + dom
		// Refused at RCPT (550 5.1.1), so the sender learns it at once.
		c, err := dialSMTP(p.SMTP)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		err = send(c, "eve@evil.test", []string{forged}, []byte(strings.ReplaceAll(email("t3@evil.test", []string{
			"From: eve@evil.test", "To: " + forged, "Subject: hi"}, "let me in"), "\n", "\r\n")))
		if err == nil || !strings.Contains(err.Error(), "550") {
			t.Fatalf("forged token: %v, want 550 at RCPT", err)
		}
		es, err := journal.Query(context.Background(), p.d.DB, journal.Filter{Status: journal.StatusRejected, Address: forged})
		if err != nil || len(es) != 1 || !strings.Contains(es[0].Reason, "signature does not match") {
			t.Errorf("journal: %+v %v", es, err)
		}
	})

	t.Run("token used by another customer is quarantined", func(t *testing.T) {
		p.send(t, "bob@client.test", []string{annReply}, email("t4@client.test", []string{
			"From: bob@client.test", "To: " + annReply, "Subject: Re: Printer"}, "I am Ann, honest"))
		e := p.entry(t, "t4@client.test")
		// People by name and address in the text; the claimed person's id in the entry.
		if !strings.HasPrefix(e.Action, "quarantined: reply token for Ann <ann@client.test> used by Bob <bob@client.test>") || e.Person != "bob" {
			t.Errorf("action = %q, person = %q", e.Action, e.Person)
		}
	})

	t.Run("spoofed agent is quarantined with its authentication results", func(t *testing.T) {
		p.send(t, "agent@corp.test", []string{"support@example.test"}, email("t5@corp.test", []string{
			"From: Agent One <agent@corp.test>", "To: support@example.test", "Subject: refund",
			"References: <root-c2@example.test>"}, "Please refund the customer."))
		e := p.entry(t, "t5@corp.test")
		if !strings.HasPrefix(e.Action, "quarantined: From agent@corp.test claims user Agent One <agent@corp.test>") ||
			!strings.Contains(e.Auth, "spf=fail smtp.mailfrom=corp.test") || !strings.Contains(e.Auth, "dmarc=fail header.from=corp.test") {
			t.Errorf("action = %q auth = %q", e.Action, e.Auth)
		}
	})

	t.Run("agent with aligned SPF posts in the internal conversation", func(t *testing.T) {
		p.send(t, "two@relay.test", []string{"notifications@example.test"}, email("t6@relay.test", []string{
			"From: two@relay.test", "To: notifications@example.test", "Subject: Re: About Ann",
			"In-Reply-To: <root-c2@example.test>"}, "Ann is a good customer."))
		e := p.entry(t, "t6@relay.test")
		if e.Conversation != "c2" || !strings.Contains(e.Auth, "spf=pass") || !strings.Contains(e.Auth, "dmarc=pass") {
			t.Errorf("conversation=%q action=%q auth=%q", e.Conversation, e.Action, e.Auth)
		}
	})

	t.Run("customer cannot land in an internal conversation", func(t *testing.T) {
		p.send(t, "ann@client.test", []string{"notifications@example.test"}, email("t7@client.test", []string{
			"From: ann@client.test", "To: notifications@example.test", "Subject: Re: About Ann",
			"In-Reply-To: <root-c2@example.test>"}, "What are you saying about me?"))
		e := p.entry(t, "t7@client.test")
		if !strings.HasPrefix(e.Action, "quarantined:") || !strings.Contains(e.Action, "internal conversation c2") {
			t.Errorf("action = %q", e.Action)
		}
		for _, m := range p.messages(t, "c2") {
			if m.Author == "ann" {
				t.Errorf("ann's message %s is in the internal conversation", m.ID)
			}
		}
	})

	t.Run("subject tag from a non-follower opens a new conversation", func(t *testing.T) {
		p.send(t, "bob@client.test", []string{"support@example.test"}, email("t8@client.test", []string{
			"From: bob@client.test", "To: support@example.test", "Subject: Re: [#" + tag + "] Printer on fire"}, "Mine too!"))
		e := p.entry(t, "t8@client.test")
		if e.ThreadBy != "new" || e.Conversation == "" || e.Conversation == "c1" || !strings.Contains(e.Action, "does not follow conversation c1") {
			t.Errorf("conversation=%q by=%q action=%q", e.Conversation, e.ThreadBy, e.Action)
		}
	})

	t.Run("stranger to the support address becomes a customer", func(t *testing.T) {
		p.send(t, "new@client.test", []string{"support@example.test"}, email("t9@client.test", []string{
			"From: Newcomer <new@client.test>", "To: support@example.test", "Subject: Hello"}, "First time here."))
		e := p.entry(t, "t9@client.test")
		var person model.Person
		p.update(t, func(tx *store.Tx) error {
			var err error
			person, err = model.PersonByEmail(tx, "NEW@client.test")
			return err
		})
		ms := p.messages(t, e.Conversation)
		if person.Kind != notify.KindCustomer || person.Name != "Newcomer" || len(ms) != 1 || ms[0].Author != person.ID {
			t.Errorf("person %+v, messages %+v, action %q", person, ms, e.Action)
		}
	})

	t.Run("the same email to To and Cc is appended once", func(t *testing.T) {
		raw := email("t10@client.test", []string{"From: ann@client.test", "To: " + annReply,
			"Cc: support@example.test", "Subject: Re: Printer on fire"}, "Sent to both.")
		before := len(p.messages(t, "c1"))
		// A sending MTA may split the recipients into two transactions.
		p.send(t, "ann@client.test", []string{annReply}, raw)
		p.send(t, "ann@client.test", []string{"support@example.test"}, raw)
		es := p.entries(t, "t10@client.test", 2)
		if got := len(p.messages(t, "c1")) - before; got != 1 {
			t.Errorf("%d messages appended, want 1 (%q, %q)", got, es[0].Action, es[1].Action)
		}
		if !strings.HasPrefix(es[1].Action, "duplicate of message") {
			t.Errorf("second copy: %q", es[1].Action)
		}
		// Another email that reuses the Message-ID is a different email.
		p.send(t, "ann@client.test", []string{annReply}, strings.Replace(raw, "Sent to both.", "Something else.", 1))
		p.entries(t, "t10@client.test", 3)
		if got := len(p.messages(t, "c1")) - before; got != 2 {
			t.Errorf("%d messages after a different body with the same Message-ID, want 2", got)
		}
	})

	t.Run("the web app is told once per appended message, signed", func(t *testing.T) {
		// Appended above: t1, t2, t6, t8, t9 and two t10s.
		const appended = 7
		waitfor.Until(t, lineTimeout, fmt.Sprintf("%d webhook deliveries", appended), func() bool {
			mu.Lock()
			n, bad := len(hooks), badSig
			mu.Unlock()
			if bad > 0 {
				t.Fatalf("%d webhook signatures did not verify", bad)
			}
			return n >= appended
		})
		mu.Lock()
		defer mu.Unlock()
		seen := map[string]bool{}
		for _, e := range hooks {
			if e.Type != webhook.TypeMessageCreated || e.Message == "" || seen[e.Message] {
				t.Errorf("event %+v (a duplicate or incomplete)", e)
			}
			seen[e.Message] = true
		}
		if len(hooks) != appended {
			t.Errorf("%d deliveries, want %d", len(hooks), appended)
		}
	})
}

// flip changes base32 characters of a token's MAC so it no longer
// matches; inside the token (not its last, partial character) the result
// stays well-formed.
func flip(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == 'a' {
			b.WriteRune('b')
		} else {
			b.WriteRune('a')
		}
	}
	return b.String()
}
