package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/auth/dnstest"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// Issue 21, items 3, 5 and 6: who is believed. Each test runs the attack
// against the daemon in-process with everything real: SMTP over loopback
// with a go-smtp client, the daemon's own DNS resolver asking a DNS
// server on 127.0.0.1 that publishes the SPF and DMARC records, bbolt (or
// PostgreSQL) in the test's folder, the HTTP API on a real listener, and
// a go-smtp relay that receives every email the daemon sends.

const trustToken = "trust-test-token"

// trustDaemon starts the daemon relaying to a sink, holding
// notifications 20 ms, with its API on 127.0.0.1.
func trustDaemon(t *testing.T, dns *dnstest.Server, flags ...string) (*inProcess, *smtpSink) {
	t.Helper()
	sink := newSMTPSink(t)
	args := append([]string{"--dns", dns.Addr, "--outbound", "relay", "--relay", sink.addr, "--relay-insecure",
		"--hold", "20ms", "--http-addr", "127.0.0.1:0", "--api-token", trustToken}, flags...)
	p := startInProcessAt(t, t.TempDir(), gateway.Options{}, args...)
	p.update(t, func(tx *store.Tx) error {
		return model.PutPerson(tx, model.Person{ID: "u1", Kind: notify.KindUser, Name: "Ada",
			Emails: []string{"ada@corp.test"}, Settings: notify.DefaultSettings()})
	})
	return p, sink
}

// apiJSON calls the in-process daemon's API and decodes the answer into out.
func (p *inProcess) apiJSON(t *testing.T, method, path, body string, out any) {
	t.Helper()
	callAPI(t, p.d.Addrs["http"], trustToken, method, path, body, out)
}

// agentWrites posts text as the agent u1 over the API.
func (p *inProcess) agentWrites(t *testing.T, conv, text string) {
	t.Helper()
	var out map[string]any
	body, _ := json.Marshal(map[string]string{"author": "u1", "text": text})
	p.apiJSON(t, "POST", "/v1/conversations/"+conv+"/messages", string(body), &out)
}

// mailsTo returns the plain text of every email the sink got for addr.
func mailsTo(t *testing.T, s *smtpSink, addr string) []string {
	t.Helper()
	var out []string
	for _, m := range sinkMails(t, s.Mails()) {
		if strings.EqualFold(m.to, addr) {
			out = append(out, plainText(t, m))
		}
	}
	return out
}

// plainText is the decoded text/plain part of a notification email.
func plainText(t *testing.T, m sinkMail) string {
	t.Helper()
	_, params, err := mime.ParseMediaType(m.msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatalf("email to %s: %v", m.to, err)
	}
	r := multipart.NewReader(strings.NewReader(m.raw[strings.Index(m.raw, "\r\n\r\n")+4:]), params["boundary"])
	for {
		part, err := r.NextPart()
		if err != nil {
			t.Fatalf("email to %s has no text part: %v", m.to, err)
		}
		if strings.HasPrefix(part.Header.Get("Content-Type"), "text/plain") {
			b, err := io.ReadAll(quotedprintable.NewReader(part))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
}

// TestForgedSenderIsSentNothing is the attack of item 3: an outsider
// sends one email "From: target@victim.test" (forged: victim.test
// publishes nothing, the envelope is the attacker's), copying their own
// address, then replies to it from that address, authenticated. Before,
// the target received the attacker's text from our notification address.
// Now the first email is marked unverified (message, journal, API); the
// reply is an outsider's (the email it answers, which named it, was
// itself unverified), so no customer hears of it; a bot's message in the
// conversation and a system email are not sent to the target either; and
// only once an agent writes does the target hear from us, and then only
// the agent's words.
func TestForgedSenderIsSentNothing(t *testing.T) {
	dns := startDNS(t)
	dns.TXT("evil.test", "v=spf1 ip4:127.0.0.1 -all")
	p, sink := trustDaemon(t, dns)
	support := []string{"support@example.test"}

	p.send(t, "mallory@evil.test", support, email("f1@victim.test", []string{
		"From: Target <target@victim.test>", "To: support@example.test", "Cc: mallory@evil.test",
		"Subject: Invoice overdue"}, "Pay it at http://evil.test/phish today."))
	first := p.entry(t, "f1@victim.test")
	if !first.Unverified || !strings.Contains(first.Action, "created conversation") || !strings.Contains(first.Action, "unverified") {
		t.Fatalf("forged opener: unverified=%v action %q", first.Unverified, first.Action)
	}
	conv := first.Conversation

	p.send(t, "mallory@evil.test", support, email("f2@evil.test", []string{
		"From: Mallory <mallory@evil.test>", "To: target@victim.test", "Cc: support@example.test",
		"In-Reply-To: <f1@victim.test>", "Subject: Re: Invoice overdue"}, "The link again: http://evil.test/phish"))
	second := p.entry(t, "f2@evil.test")
	if second.Unverified || second.Conversation != conv || !strings.Contains(second.Action, "that email was itself unverified") {
		t.Fatalf("the attacker's authenticated reply: unverified=%v conv %s action %q", second.Unverified, second.Conversation, second.Action)
	}
	// An automatic message (a bot's, as an automation posts) would be
	// emailed to the conversation's customers: not to this one.
	p.update(t, func(tx *store.Tx) error {
		return model.PutPerson(tx, model.Person{ID: "ackbot", Kind: notify.KindBot, Name: "Helpdesk", Settings: notify.DefaultSettings()})
	})
	var posted map[string]any
	p.apiJSON(t, "POST", "/v1/conversations/"+conv+"/messages", `{"author":"ackbot","text":"We received your request."}`, &posted)
	cancelled := waitEntry(t, p, func(e journal.Entry) bool {
		return e.Direction == journal.Out && e.Status == journal.StatusCancelled && len(e.EnvelopeTo) == 1 && e.EnvelopeTo[0] == "target@victim.test"
	})
	if !strings.Contains(cancelled.Reason, "unverified email") {
		t.Errorf("cancelled email to the target: reason %q", cancelled.Reason)
	}
	// No system or automated email either, whatever the web app asks.
	var outcome map[string]any
	p.apiJSON(t, "POST", "/v1/events", `{"id":"ev1","type":"user.created","person":"`+first.Person+`"}`, &outcome)
	welcome := waitEntry(t, p, func(e journal.Entry) bool {
		return e.Direction == journal.Out && e.Status == journal.StatusCancelled && strings.Contains(e.Reason, "no agent has written to it")
	})
	if len(welcome.EnvelopeTo) != 1 || welcome.EnvelopeTo[0] != "target@victim.test" {
		t.Errorf("cancelled system email: %+v", welcome)
	}
	quiesce(t, p)
	if got := mailsTo(t, sink, "target@victim.test"); len(got) != 0 {
		t.Fatalf("the forged address received %d emails: %q", len(got), got)
	}

	var page struct {
		Messages []model.Message `json:"messages"`
	}
	p.apiJSON(t, "GET", "/v1/conversations/"+conv+"/messages", "", &page)
	if len(page.Messages) != 3 || !page.Messages[0].Unverified || !strings.Contains(page.Messages[0].Verification, "spf=pass smtp.mailfrom=evil.test") ||
		page.Messages[1].Unverified || !page.Messages[1].Outsider {
		t.Fatalf("API messages: %+v", page.Messages)
	}

	// Once an agent has written, the address hears from us: the agent's
	// words, nothing of what came before.
	p.agentWrites(t, conv, "We sent you no invoice; please ignore it.")
	quiesce(t, p)
	got := mailsTo(t, sink, "target@victim.test")
	if len(got) != 1 || !strings.Contains(got[0], "We sent you no invoice") || strings.Contains(got[0], "phish") {
		t.Fatalf("emails to the target after the agent wrote: %q", got)
	}
}

// annOpens starts the daemon with client.test and evil.test passing SPF
// from 127.0.0.1, and Ann (ann@client.test) opening a conversation with
// the email id, copying cc ("" for none); it returns the conversation.
func annOpens(t *testing.T, id, cc, subject string) (*inProcess, *smtpSink, string) {
	t.Helper()
	dns := startDNS(t)
	dns.TXT("client.test", "v=spf1 ip4:127.0.0.1 -all")
	dns.TXT("evil.test", "v=spf1 ip4:127.0.0.1 -all")
	p, sink := trustDaemon(t, dns)
	header := []string{"From: Ann <ann@client.test>", "To: support@example.test", "Subject: " + subject}
	if cc != "" {
		header = append(header, "Cc: "+cc)
	}
	p.send(t, "ann@client.test", []string{"support@example.test"}, email(id, header, "I cannot log in."))
	return p, sink, p.entry(t, id).Conversation
}

// TestStrangerByMessageIDIsNotAFollower is the attack of item 5: a
// stranger who knows one of a customer's Message-IDs replies to it. The
// reply is appended for the agents to see, but the stranger does not
// follow the conversation, so the agent's next reply ("your reset code")
// is not emailed to them; no customer hears of the stranger's text. A
// person the customer copied, authenticated, does take part, and their
// display name, equal to the agent's, is marked external in the
// customer's email.
func TestStrangerByMessageIDIsNotAFollower(t *testing.T) {
	p, sink, conv := annOpens(t, "a1@client.test", `"Ada" <ada.support@evil.test>, bob@nospf.test`, "Password reset")
	support := []string{"support@example.test"}

	for _, tc := range []struct{ from, header, id, why string }{
		{"mallory@evil.test", "From: Mallory <mallory@evil.test>", "m1@evil.test", "does not follow it and was not a recipient"},
		{"bob@nospf.test", "From: bob@nospf.test", "b1@nospf.test", "is not authenticated"},
	} {
		p.send(t, tc.from, support, email(tc.id, []string{tc.header, "To: support@example.test",
			"In-Reply-To: <a1@client.test>", "Subject: Re: Password reset"}, "I own this account: send the code to me."))
		e := p.entry(t, tc.id)
		if e.Conversation != conv || !strings.Contains(e.Action, "not a participant") || !strings.Contains(e.Action, tc.why) {
			t.Fatalf("%s: conversation %s, action %q", tc.from, e.Conversation, e.Action)
		}
	}
	p.send(t, "ada.support@evil.test", support, email("ada1@evil.test", []string{`From: "Ada" <ada.support@evil.test>`,
		"To: support@example.test", "In-Reply-To: <a1@client.test>", "Subject: Re: Password reset"}, "Please confirm your card number."))
	if e := p.entry(t, "ada1@evil.test"); strings.Contains(e.Action, "not a participant") {
		t.Fatalf("the copied, authenticated address: %q", e.Action)
	}
	quiesce(t, p)
	p.agentWrites(t, conv, "Your password reset code is 445566.")
	quiesce(t, p)

	for _, stranger := range []string{"mallory@evil.test", "bob@nospf.test"} {
		if got := mailsTo(t, sink, stranger); len(got) != 0 {
			t.Errorf("the stranger %s received %d emails: %q", stranger, len(got), got)
		}
	}
	toAnn := strings.Join(mailsTo(t, sink, "ann@client.test"), "\n")
	if strings.Contains(toAnn, "send the code to me") {
		t.Errorf("a stranger's text reached the customer:\n%s", toAnn)
	}
	if !strings.Contains(toAnn, "--- Ada <ada.support@evil.test> (external),") || !strings.Contains(toAnn, "445566") {
		t.Errorf("the customer's emails do not tell the outsider Ada from the agent Ada:\n%s", toAnn)
	}
	if n := strings.Count(toAnn, "--- Ada,"); n != 1 {
		t.Errorf("%d messages shown as the agent Ada, want 1 (the agent's):\n%s", n, toAnn)
	}
	ms := p.messages(t, conv)
	var outsiders int
	for _, m := range ms {
		if m.Outsider {
			outsiders++
		}
	}
	if len(ms) != 5 || outsiders != 2 {
		t.Errorf("%d messages, %d outsiders; want 5 and 2", len(ms), outsiders)
	}
}

// beaAndCal stores the customers Bea (at bea) and Cal (cal@nodmarc.test)
// and the external conversation conv, "Card", that both and the agent
// follow; it returns the conversation's subject tag.
func beaAndCal(t *testing.T, p *inProcess, conv, bea string) (tag string) {
	t.Helper()
	p.update(t, func(tx *store.Tx) error {
		for _, per := range []model.Person{
			{ID: "bea", Kind: notify.KindCustomer, Name: "Bea", Emails: []string{bea}, Settings: notify.DefaultSettings()},
			{ID: "cal", Kind: notify.KindCustomer, Name: "Cal", Emails: []string{"cal@nodmarc.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, per); err != nil {
				return err
			}
		}
		c := &model.Conversation{ID: conv, Kind: model.External, Subject: "Card",
			Followers: []string{"bea", "cal", "u1"}, RootID: "root-" + conv + "@example.test", Created: time.Now()}
		err := model.PutConversation(tx, c)
		tag = c.Tag
		return err
	})
	return tag
}

// TestDMARCRejectQuarantinesCustomers is the attack of item 6: Mallory's
// envelope, From: Bea <bea@client.test>, client.test at DMARC p=reject.
// Before, it was posted as Bea. Now it is quarantined (kept for
// operators, with the reason), even to Bea's own reply token; a customer
// of a domain without DMARC replying to their token is still posted.
func TestDMARCRejectQuarantinesCustomers(t *testing.T) {
	dns := startDNS(t)
	dns.TXT("client.test", "v=spf1 ip4:192.0.2.0/24 -all")
	dns.TXT("_dmarc.client.test", "v=DMARC1; p=reject")
	dns.TXT("evil.test", "v=spf1 ip4:127.0.0.1 -all")
	p, _ := trustDaemon(t, dns)
	beaAndCal(t, p, "c6", "bea@client.test")
	keys, err := threading.LoadOrCreateKeyring(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	beaToken, _ := keys.ReplyAddress("c6", "bea", "example.test")
	calToken, _ := keys.ReplyAddress("c6", "cal", "example.test")

	for _, tc := range []struct{ name, rcpt, id string }{
		{"by her reply token", beaToken, "x1@evil.test"},
		{"by References", "support@example.test", "x2@evil.test"},
	} {
		p.send(t, "mallory@evil.test", []string{tc.rcpt}, email(tc.id, []string{"From: Bea <bea@client.test>",
			"To: " + tc.rcpt, "References: <root-c6@example.test>", "Subject: Re: Card"}, "New card number: 4111..."))
		e := p.entry(t, tc.id)
		if !strings.HasPrefix(e.Action, "quarantined:") || !strings.Contains(e.Action, "p=reject") || !e.Unverified {
			t.Errorf("%s: action %q", tc.name, e.Action)
		}
	}
	p.send(t, "cal@nodmarc.test", []string{calToken}, email("y1@nodmarc.test", []string{"From: Cal <cal@nodmarc.test>",
		"To: " + calToken, "Subject: Re: Card"}, "Thanks, that works."))
	if e := p.entry(t, "y1@nodmarc.test"); !strings.Contains(e.Action, "appended to conversation c6 by token") {
		t.Errorf("a token reply from a domain without DMARC: %q", e.Action)
	}
	ms := p.messages(t, "c6")
	// The token sent to Cal's address, with a matching From, verifies
	// him: his domain publishes no DMARC policy to do it.
	if len(ms) != 1 || ms[0].Author != "cal" || ms[0].Unverified || ms[0].Outsider || !strings.Contains(ms[0].Verification, "reply token") {
		t.Fatalf("c6 messages: %+v", ms)
	}
	var buf bytes.Buffer
	_ = json.NewEncoder(&buf).Encode(ms[0])
	if strings.Contains(buf.String(), `"unverified"`) {
		t.Errorf("message JSON %s", buf.String())
	}
}

// TestForgedCustomerByTagIsEmailedToNoCustomer: Mallory's envelope
// (SPF passes for evil.test) writes From: Bea <bea@nodmarc.test> (a
// domain with no SPF and no DMARC) with the subject tag of a conversation
// Bea and Cal follow. The message is appended as Bea, unverified: the
// agent is emailed it, Cal is not (the email to him is cancelled with the
// reason). Bea answering through her reply token is verified by it, and
// Cal is emailed that.
func TestForgedCustomerByTagIsEmailedToNoCustomer(t *testing.T) {
	dns := startDNS(t)
	dns.TXT("evil.test", "v=spf1 ip4:127.0.0.1 -all")
	p, sink := trustDaemon(t, dns)
	tag := beaAndCal(t, p, "c7", "bea@nodmarc.test")

	p.send(t, "mallory@evil.test", []string{"support@example.test"}, email("z1@evil.test", []string{"From: Bea <bea@nodmarc.test>",
		"To: support@example.test", "Subject: Re: [#" + tag + "] Card"}, "New card portal: http://evil.test/card"))
	e := p.entry(t, "z1@evil.test")
	if e.Conversation != "c7" || !e.Unverified || !strings.Contains(e.Action, "unverified") {
		t.Fatalf("forged Bea: conversation %s, unverified %v, action %q", e.Conversation, e.Unverified, e.Action)
	}
	cancelled := waitEntry(t, p, func(e journal.Entry) bool {
		return e.Direction == journal.Out && e.Status == journal.StatusCancelled && len(e.EnvelopeTo) == 1 && e.EnvelopeTo[0] == "cal@nodmarc.test"
	})
	if !strings.Contains(cancelled.Reason, "unverified sender") {
		t.Errorf("cancelled email to Cal: reason %q", cancelled.Reason)
	}
	quiesce(t, p)
	if got := mailsTo(t, sink, "cal@nodmarc.test"); len(got) != 0 {
		t.Fatalf("Cal was emailed the forged text: %q", got)
	}
	if got := strings.Join(mailsTo(t, sink, "ada@corp.test"), "\n"); !strings.Contains(got, "evil.test/card") {
		t.Errorf("the agent was not emailed the unverified message: %q", got)
	}

	keys, err := threading.LoadOrCreateKeyring(p.dir)
	if err != nil {
		t.Fatal(err)
	}
	beaToken, _ := keys.ReplyAddress("c7", "bea", "example.test")
	p.send(t, "bea@nodmarc.test", []string{beaToken}, email("z2@nodmarc.test", []string{"From: Bea <bea@nodmarc.test>",
		"To: " + beaToken, "Subject: Re: [#" + tag + "] Card"}, "That was not me: ignore the portal."))
	if e := p.entry(t, "z2@nodmarc.test"); e.Unverified || !strings.Contains(e.Action, "by token") {
		t.Fatalf("Bea's token reply: unverified %v, action %q", e.Unverified, e.Action)
	}
	quiesce(t, p)
	got := mailsTo(t, sink, "cal@nodmarc.test")
	if len(got) != 1 || !strings.Contains(got[0], "That was not me") || strings.Contains(got[0], "evil.test/card") {
		t.Fatalf("emails to Cal: %q", got)
	}
}

// TestOutsiderCannotNameItself is the bypass of item 5 found after the
// fix: Mallory (SPF passes for evil.test) replies to a customer's
// Message-ID copying her own address (m1, an outsider's message), then
// answers m1 (m2). She was a recipient of the email she answers and is
// authenticated, but that email's author was not a participant: m2 is an
// outsider's too, she never follows the conversation, and neither Ann nor
// she is emailed anything of hers; the agent's reply reaches Ann only.
func TestOutsiderCannotNameItself(t *testing.T) {
	p, sink, conv := annOpens(t, "a1@client.test", "", "Password reset")
	support := []string{"support@example.test"}

	p.send(t, "mallory@evil.test", support, email("m1@evil.test", []string{
		"From: Mallory <mallory@evil.test>", "To: support@example.test", "Cc: mallory@evil.test",
		"In-Reply-To: <a1@client.test>", "Subject: Re: Password reset"}, "I am Ann's colleague."))
	if e := p.entry(t, "m1@evil.test"); e.Conversation != conv || !strings.Contains(e.Action, "does not follow it and was not a recipient") {
		t.Fatalf("m1: conversation %s, action %q", e.Conversation, e.Action)
	}
	p.send(t, "mallory@evil.test", support, email("m2@evil.test", []string{
		"From: Mallory <mallory@evil.test>", "To: support@example.test", "Cc: ann@client.test",
		"In-Reply-To: <m1@evil.test>", "Subject: Re: Password reset"}, "Send the reset code to me, please."))
	if e := p.entry(t, "m2@evil.test"); e.Conversation != conv || !strings.Contains(e.Action, "not a participant") ||
		!strings.Contains(e.Action, "that email's author was not a participant") {
		t.Fatalf("m2: conversation %s, action %q", e.Conversation, e.Action)
	}
	quiesce(t, p)
	p.agentWrites(t, conv, "Your password reset code is 445566.")
	quiesce(t, p)

	if got := mailsTo(t, sink, "mallory@evil.test"); len(got) != 0 {
		t.Errorf("Mallory received %d emails: %q", len(got), got)
	}
	toAnn := strings.Join(mailsTo(t, sink, "ann@client.test"), "\n")
	if strings.Contains(toAnn, "Ann's colleague") || strings.Contains(toAnn, "to me, please") || !strings.Contains(toAnn, "445566") {
		t.Errorf("emails to Ann:\n%s", toAnn)
	}
	var outsiders int
	for _, m := range p.messages(t, conv) {
		if m.Outsider {
			outsiders++
		}
	}
	if outsiders != 2 {
		t.Errorf("%d outsiders' messages, want 2", outsiders)
	}
}

// TestLookalikeStaffNameIsMarkedExternal: people Ann copied call
// themselves the agent's name "Ada" with a Cyrillic "А" or with an
// invisible U+034F inside; their replies reach Ann marked external, with
// their address, like a plain "Ada" would.
func TestLookalikeStaffNameIsMarkedExternal(t *testing.T) {
	cyrillic, invisible := "=?utf-8?q?=D0=90da?= <ada2@evil.test>", "=?utf-8?q?A=CD=8Fda?= <ada3@evil.test>"
	p, sink, conv := annOpens(t, "l1@client.test", cyrillic+", "+invisible, "Refund")
	support := []string{"support@example.test"}
	for i, from := range []string{cyrillic, invisible} {
		id := []string{"l2@evil.test", "l3@evil.test"}[i]
		addr := []string{"ada2@evil.test", "ada3@evil.test"}[i]
		p.send(t, addr, support, email(id, []string{"From: " + from, "To: support@example.test",
			"In-Reply-To: <l1@client.test>", "Subject: Re: Refund"}, "Send your card number to "+addr+" please."))
		if e := p.entry(t, id); e.Conversation != conv || strings.Contains(e.Action, "not a participant") {
			t.Fatalf("%s: conversation %s, action %q", addr, e.Conversation, e.Action)
		}
	}
	quiesce(t, p)
	toAnn := strings.Join(mailsTo(t, sink, "ann@client.test"), "\n")
	for _, addr := range []string{"ada2@evil.test", "ada3@evil.test"} {
		if !strings.Contains(toAnn, "<"+addr+"> (external),") {
			t.Errorf("the look-alike Ada <%s> is not marked external:\n%s", addr, toAnn)
		}
	}
}
