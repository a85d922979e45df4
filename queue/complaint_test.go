package queue

import (
	"strings"
	"testing"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

// TestRecordComplaint: an ARF abuse report about an email we sent
// suppresses the address it went to at once (one complaint, where a hard
// bounce needs SuppressAfter), leaves the delivered email as it was, and
// says why in the outgoing log.
func TestRecordComplaint(t *testing.T) {
	e := newEnv(t)
	m := e.post("hello")
	e.clk.Advance(DefaultHold)
	e.process()
	s := e.tr.emails()[0]
	before := e.status(m, "ann")
	e.update(func(tx *store.Tx) error {
		_, err := e.q.RecordBounce(tx, s.msg.Header.Get("Message-ID"), loopguard.BounceReport{Format: "arf",
			Action: "complaint", FeedbackType: "abuse", Recipient: "redacted@isp.example"})
		return err
	})
	if got := e.status(m, "ann"); got != before {
		t.Errorf("status %q after a complaint, want it unchanged (%q)", got, before)
	}
	var suppressed bool
	_ = e.db.View(func(tx *store.Tx) error {
		suppressed = Suppressed(tx, "ann@client.test") && !Suppressed(tx, "redacted@isp.example")
		return nil
	})
	if !suppressed {
		t.Error("the address the email went to is not suppressed after one complaint (or the report's address is)")
	}
	es, _ := journal.Query(e.db, journal.Filter{Status: journal.StatusSuppressed})
	if len(es) != 1 || !strings.Contains(es[0].Reason, "abuse complaint (ARF feedback report)") {
		t.Errorf("suppressed entries %+v", es)
	}
}
