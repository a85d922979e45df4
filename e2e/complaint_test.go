package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// arfReport is an abuse feedback report (RFC 5965) about the email with
// Message-ID msgID that went to rcpt.
func arfReport(from, to, id, msgID, rcpt string) string {
	return fmt.Sprintf("From: %s\nTo: %s\nSubject: abuse report\nMessage-ID: <%s>\n"+
		"Date: Mon, 30 Nov 2026 09:20:00 +0000\nMIME-Version: 1.0\n"+
		"Content-Type: multipart/report; report-type=feedback-report; boundary=\"A\"\n\n"+
		"--A\nContent-Type: text/plain\n\nThis is an email abuse report.\n"+
		"--A\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nUser-Agent: FBL/1.0\nVersion: 1\n"+
		"Original-Rcpt-To: <%s>\n\n"+
		"--A\nContent-Type: message/rfc822\nContent-Disposition: inline\n\n"+
		"From: Helpdesk <help@example.test>\nTo: %s\nSubject: update\nMessage-ID: %s\n\nYour order has shipped.\n"+
		"--A--\n", from, to, id, rcpt, rcpt, msgID)
}

// TestForgedComplaintSuppressesNobody is the attack of item 9: an ARF
// report from <> naming one of a customer's emails suppressed that
// customer at once. Now a report suppresses only when it names one of our
// own identifiers (here the VERP address and the signed Message-ID) and
// comes from a configured feedback loop, authenticated; the forged ones
// are recorded in the log with the reason, and change nothing.
func TestForgedComplaintSuppressesNobody(t *testing.T) {
	dns := startDNS(t)
	dns.TXT("fbl.test", "v=spf1 ip4:127.0.0.1 -all")
	dns.TXT("evil.test", "v=spf1 ip4:127.0.0.1 -all")
	p, sink := trustDaemon(t, dns, "--feedback-loops", "fbl.test")
	p.update(t, func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "ann", Kind: notify.KindCustomer, Name: "Ann",
			Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c9", Kind: model.External, Subject: "Order",
			Followers: []string{"ann", "u1"}, Created: time.Now()})
	})
	p.agentWrites(t, "c9", "Your order has shipped.")
	got := sink.wait(t, 1)[0]
	msgID := got.msg.Header.Get("Message-ID")
	suppressed := func() bool {
		var s bool
		_ = p.d.DB.View(func(tx *store.Tx) error { s = queue.Suppressed(tx, "ann@client.test"); return nil })
		return s
	}

	for _, tc := range []struct{ name, mailFrom, from, rcpt, id, why string }{
		{"from <> to the VERP address", "", "abuse@isp.test", got.from, "r1@isp.test", "from no configured feedback loop"},
		{"from <> to postmaster", "", "abuse@isp.test", "postmaster@example.test", "r2@isp.test", "from no configured feedback loop"},
		{"the loop's name, not authenticated", "", "reports@fbl.test", got.from, "r3@fbl.test", "is feedback loop fbl.test, but not authenticated"},
		{"an authenticated stranger", "abuse@evil.test", "abuse@evil.test", got.from, "r4@evil.test", "from no configured feedback loop"},
	} {
		p.send(t, tc.mailFrom, []string{tc.rcpt}, arfReport(tc.from, tc.rcpt, tc.id, msgID, "ann@client.test"))
		e := waitEntry(t, p, func(e journal.Entry) bool { return e.MessageID == "<"+tc.id+">" && e.Action != "" })
		if !strings.Contains(e.Action, "recorded, not acted on") || !strings.Contains(e.Action, tc.why) {
			t.Errorf("%s: action %q", tc.name, e.Action)
		}
		if suppressed() {
			t.Fatalf("%s: ann@client.test is suppressed", tc.name)
		}
	}
	// A report naming a Message-ID that deskmail did not sign (a
	// customer's own email) is not tied to anything.
	p.send(t, "", []string{"postmaster@example.test"}, arfReport("abuse@isp.test", "postmaster@example.test", "r5@isp.test", "<ann-own@client.test>", "ann@client.test"))
	if e := waitEntry(t, p, func(e journal.Entry) bool { return e.MessageID == "<r5@isp.test>" && e.Action != "" }); !strings.Contains(e.Action, "naming no email of ours") {
		t.Errorf("a report naming a foreign Message-ID: %q", e.Action)
	}

	// The configured loop, authenticated (SPF of fbl.test aligned with its From).
	p.send(t, "reports@fbl.test", []string{got.from}, arfReport("reports@fbl.test", got.from, "r6@fbl.test", msgID, "ann@client.test"))
	e := waitEntry(t, p, func(e journal.Entry) bool { return e.MessageID == "<r6@fbl.test>" && e.Action != "" })
	if !strings.Contains(e.Action, "suppressed") || !strings.Contains(e.Action, "feedback loop fbl.test") || !suppressed() {
		t.Errorf("a report of the configured loop: %q, suppressed %v", e.Action, suppressed())
	}
}
