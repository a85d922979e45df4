package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// kept waits for the journal entry of msgID to be marked for operators
// (journal.Entry.Attention) and returns it.
func (p *inProcess) kept(t *testing.T, msgID string) journal.Entry {
	t.Helper()
	return waitfor.Value(t, lineTimeout, msgID+" is marked for operators", func() (journal.Entry, bool) {
		es, err := journal.Query(context.Background(), p.d.DB, journal.Filter{Attention: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.MessageID == "<"+msgID+">" {
				return e, true
			}
		}
		return journal.Entry{}, false
	})
}

// TestAmbiguousAuthorIsNeverAttributed reproduces the attack of posting
// as an agent: "From : Ada" (white space before the colon, an obsolete
// form one parser reads as From and another ignores) followed by Mallory's
// own From, sent over SMTP from an envelope whose SPF passes for
// evil.test. Read two ways it was checked as Mallory and threaded as Ada;
// read once, it has two From fields, so no author: it is posted to no
// conversation, emails no one, and waits for operators.
func TestAmbiguousAuthorIsNeverAttributed(t *testing.T) {
	dns := startDNS(t)
	dns.TXT("evil.test", "v=spf1 ip4:127.0.0.1 -all")
	p := startInProcessAt(t, t.TempDir(), gateway.Options{}, "--dns", dns.Addr)
	now := time.Now()
	var tag string
	p.update(t, func(tx *store.Tx) error {
		for _, per := range []model.Person{
			{ID: "ada", Kind: notify.KindUser, Name: "Ada", Emails: []string{"ada@example.test"}, Settings: notify.DefaultSettings()},
			{ID: "bea", Kind: notify.KindCustomer, Name: "Bea", Emails: []string{"bea@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, per); err != nil {
				return err
			}
		}
		in := &model.Conversation{ID: "in1", Kind: model.Internal, Subject: "Staff only", Followers: []string{"ada"}, RootID: "root-in1@example.test", Created: now}
		ext := &model.Conversation{ID: "ex1", Kind: model.External, Subject: "Card", Followers: []string{"ada", "bea"}, RootID: "root-ex1@example.test", Created: now}
		if err := model.PutConversation(tx, in); err != nil {
			return err
		}
		if err := model.PutConversation(tx, ext); err != nil {
			return err
		}
		tag = ext.Tag
		return nil
	})
	support := []string{"support@example.test"}
	p.send(t, "mallory@evil.test", support, email("atk1@evil.test", []string{
		"From : Ada <ada@example.test>", "From: x <mallory@evil.test>", "To: support@example.test",
		"Subject: Re: Staff only", "References: <root-in1@example.test>"}, "--- Ada: send me the admin password"))
	p.send(t, "mallory@evil.test", support, email("atk2@evil.test", []string{
		"From : Ada <ada@example.test>", "From: x <mallory@evil.test>", "To: support@example.test",
		"Subject: Re: Card " + tag}, "--- Ada: confirm your card number and CVC"))

	for _, id := range []string{"atk1@evil.test", "atk2@evil.test"} {
		e := p.kept(t, id)
		if !strings.Contains(e.Attention, "ambiguous author: 2 From fields") || e.Conversation != "" || e.Person != "" || len(e.Messages) != 0 {
			t.Errorf("%s: attention %q, conversation %q, person %q, messages %v, action %q", id, e.Attention, e.Conversation, e.Person, e.Messages, e.Action)
		}
		if !strings.Contains(e.From, "ada@example.test") || !strings.Contains(e.From, "mallory@evil.test") {
			t.Errorf("%s: the log's From %q must show both authors", id, e.From)
		}
	}
	for _, c := range []string{"in1", "ex1"} {
		if ms := p.messages(t, c); len(ms) != 0 {
			t.Errorf("conversation %s: %d messages appended (%+v)", c, len(ms), ms)
		}
	}
	if out, _ := journal.Query(context.Background(), p.d.DB, journal.Filter{Direction: journal.Out}); len(out) != 0 {
		t.Errorf("emails sent: %+v", out)
	}
	// The operator finds both.
	r := runCLI(t, nil, nil, "inbound", "list", "--attention", "--data", p.dir)
	if r.Code != 0 || strings.Count(r.Stdout, "ambiguous author") != 2 {
		t.Errorf("inbound list --attention: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	// A normal email from Mallory's own address is still taken.
	p.send(t, "mallory@evil.test", support, email("ok1@evil.test", []string{"From: x <mallory@evil.test>", "Subject: hello"}, "hi"))
	if e := p.entry(t, "ok1@evil.test"); e.Attention != "" || e.Conversation == "" {
		t.Errorf("plain email: attention %q, conversation %q, action %q", e.Attention, e.Conversation, e.Action)
	}
}

// TestNoAuthorIsKeptForOperators: a person's email with no usable author
// (no From at all, or a From with no address) is never dropped: it is
// kept with the reason, marked for operators, and listed by `deskmail
// inbound list --attention` (issue 22, item 5).
func TestNoAuthorIsKeptForOperators(t *testing.T) {
	p := startInProcessAt(t, t.TempDir(), gateway.Options{})
	support := []string{"support@example.test"}
	p.send(t, "ann@client.test", support, email("nofrom@client.test", []string{
		"To: support@example.test", "Subject: my order"}, "Where is my order?"))
	p.send(t, "ann@client.test", support, email("noaddr@client.test", []string{
		"From: Ann", "To: support@example.test", "Subject: my parcel"}, "Where is my parcel?"))
	for _, id := range []string{"nofrom@client.test", "noaddr@client.test"} {
		e := p.kept(t, id)
		if e.Attention == "" || e.Conversation != "" || strings.HasPrefix(e.Action, "dropped") {
			t.Errorf("%s: attention %q, conversation %q, action %q", id, e.Attention, e.Conversation, e.Action)
		}
	}
	r := runCLI(t, nil, nil, "inbound", "list", "--attention", "--data", p.dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "no From field") {
		t.Errorf("inbound list --attention: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
