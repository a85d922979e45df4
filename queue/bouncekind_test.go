package queue

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

// sendOne posts a message, lets its hold end and sends the email; it
// returns the message and the email's Message-ID.
func (e *env) sendOne(t *testing.T) (string, string) {
	t.Helper()
	m := e.post("hello")
	e.clk.Advance(DefaultHold)
	e.process()
	ems := e.tr.emails()
	if len(ems) == 0 {
		t.Fatal("nothing sent")
	}
	return m, ems[len(ems)-1].msg.Header.Get("Message-ID")
}

func (e *env) bounce(t *testing.T, id string, r loopguard.BounceReport) {
	t.Helper()
	e.update(func(tx *store.Tx) error {
		_, err := e.q.RecordBounce(tx, id, r)
		return err
	})
}

func (e *env) suppressed(addr string) (s bool) {
	e.view(func(tx *store.Tx) error {
		s = Suppressed(tx, addr)
		return nil
	})
	return s
}

// TestBounceKinds: each kind of report does what docs/LOOP-PREVENTION.md
// says: success and bare notifications change nothing, a delay is a
// warning, transient failures and full mailboxes bounce the email and
// suppress the address only after TransientSuppressAfter of them within
// TransientWindow, a permanent failure counts towards SuppressAfter.
func TestBounceKinds(t *testing.T) {
	e := newEnv(t)
	e.q.TransientSuppressAfter, e.q.TransientWindow = 3, time.Hour

	m, id := e.sendOne(t)
	e.bounce(t, id, loopguard.BounceReport{Action: "relayed", Status: "2.0.0", Kind: loopguard.KindSuccess})
	e.bounce(t, id, loopguard.BounceReport{Format: "unknown"})
	if s := e.status(m, "ann"); s != "sent" {
		t.Fatalf("after a success report and a bare notification: %q, want sent", s)
	}
	e.bounce(t, id, loopguard.BounceReport{Action: "delayed", Status: "4.4.1"})
	if s := e.status(m, "ann"); s != "sent" {
		t.Fatalf("after a delay warning: %q, want sent", s)
	}

	// Two transient failures, then the window passes: the third is the
	// first one counted again.
	for i, r := range []loopguard.BounceReport{
		{Action: "failed", Status: "4.2.2", Diagnostic: "452 4.2.2 mailbox full"},
		{Action: "failed", Status: "4.4.7", Diagnostic: "message expired"},
	} {
		m, id := e.sendOne(t)
		e.bounce(t, id, r)
		if s := e.status(m, "ann"); s != "bounced" {
			t.Errorf("transient %d: status %q, want bounced", i, s)
		}
		if e.suppressed("ann@client.test") {
			t.Fatalf("suppressed after %d transient failures (3 needed)", i+1)
		}
	}
	e.clk.Advance(2 * time.Hour)
	for i := range 2 {
		_, id := e.sendOne(t)
		e.bounce(t, id, loopguard.BounceReport{Action: "failed", Status: "4.2.2", Kind: loopguard.KindMailboxFull})
		if e.suppressed("ann@client.test") {
			t.Fatalf("suppressed by %d failures within the window plus older ones outside it", i+1)
		}
	}
	_, id = e.sendOne(t)
	e.bounce(t, id, loopguard.BounceReport{Action: "failed", Status: "4.0.0", Kind: loopguard.KindTransient})
	if !e.suppressed("ann@client.test") {
		t.Fatal("not suppressed after 3 transient failures within the window")
	}
	es, _ := journal.Query(context.Background(), e.db, journal.Filter{Status: journal.StatusSuppressed})
	if len(es) != 1 || !strings.Contains(es[0].Reason, "3 transient failures (last: transient)") {
		t.Errorf("suppressed entries %+v", es)
	}
	bs, _ := journal.Query(context.Background(), e.db, journal.Filter{Status: journal.StatusBounced})
	if len(bs) == 0 || !strings.HasPrefix(bs[0].Reason, "mailbox_full: ") && !strings.HasPrefix(bs[0].Reason, "transient: ") {
		t.Errorf("bounced entries do not say the kind: %+v", bs)
	}
}

// TestPermanentBounceKindCounts: a permanent report counts as a hard
// bounce, one without a status too (a legacy "user unknown").
func TestPermanentBounceKindCounts(t *testing.T) {
	e := newEnv(t)
	for i := range DefaultSuppressAfter {
		_, id := e.sendOne(t)
		e.bounce(t, id, loopguard.BounceReport{Action: "failed", Format: "legacy", Recipient: "ann@client.test", Diagnostic: "user unknown"})
		if got, want := e.suppressed("ann@client.test"), i == DefaultSuppressAfter-1; got != want {
			t.Errorf("after %d permanent failures: suppressed %v, want %v", i+1, got, want)
		}
	}
}
