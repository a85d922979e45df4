package queue

import (
	"context"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

// TestRecordComplaint: an ARF abuse report about an email we sent, that
// the caller trusts, suppresses the address it went to at once (one
// complaint, where a hard bounce needs SuppressAfter), leaves the
// delivered email as it was, and says why in the outgoing log.
func TestRecordComplaint(t *testing.T) {
	e := newEnv(t)
	m := e.post("hello")
	e.clk.Advance(DefaultHold)
	e.process()
	s := e.tr.emails()[0]
	before := e.status(m, "ann")
	e.update(func(tx *store.Tx) error {
		j, err := FindEmail(tx, "", s.msg.Header.Get("Message-ID"))
		if err != nil {
			return err
		}
		return e.q.RecordComplaint(tx, j, loopguard.BounceReport{Format: "arf",
			Action: "complaint", FeedbackType: "abuse", Recipient: "redacted@isp.example"}, ComplaintTrust{Act: true, Why: "feedback loop isp.example"})
	})
	if got := e.status(m, "ann"); got != before {
		t.Errorf("status %q after a complaint, want it unchanged (%q)", got, before)
	}
	var suppressed bool
	_ = e.db.View(context.Background(), func(tx *store.Tx) error {
		suppressed = Suppressed(tx, "ann@client.test") && !Suppressed(tx, "redacted@isp.example")
		return nil
	})
	if !suppressed {
		t.Error("the address the email went to is not suppressed after one complaint (or the report's address is)")
	}
	es, _ := journal.Query(context.Background(), e.db, journal.Filter{Status: journal.StatusSuppressed})
	if len(es) != 1 || !strings.Contains(es[0].Reason, "abuse complaint (ARF feedback report)") {
		t.Errorf("suppressed entries %+v", es)
	}
}

// TestComplaintNotTrustedIsOnlyRecorded: a complaint that reaches the
// queue through RecordBounce, or that its caller does not trust, changes
// nothing (issue 21, item 9: a forged report from <> naming one of a
// customer's emails suppressed them at once); the outgoing log says it
// came and why it did not act.
func TestComplaintNotTrustedIsOnlyRecorded(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	e.clk.Advance(DefaultHold)
	e.process()
	s := e.tr.emails()[0]
	report := loopguard.BounceReport{Format: "arf", Action: "complaint", FeedbackType: "abuse"}
	e.update(func(tx *store.Tx) error {
		if _, err := e.q.RecordBounce(tx, s.msg.Header.Get("Message-ID"), report); err != nil {
			return err
		}
		j, err := FindEmail(tx, "", s.msg.Header.Get("Message-ID"))
		if err != nil {
			return err
		}
		return e.q.RecordComplaint(tx, j, report, ComplaintTrust{Why: "from no configured feedback loop"})
	})
	_ = e.db.View(context.Background(), func(tx *store.Tx) error {
		if Suppressed(tx, "ann@client.test") {
			t.Error("an untrusted complaint suppressed the address")
		}
		return nil
	})
	es, _ := journal.Query(context.Background(), e.db, journal.Filter{})
	var notes []string
	for _, en := range es {
		if strings.Contains(en.Reason, "not acted on") {
			notes = append(notes, en.Reason)
		}
	}
	if len(notes) != 2 || !strings.Contains(notes[0]+notes[1], "from no configured feedback loop") {
		t.Errorf("log notes of the complaints: %q", notes)
	}
}
