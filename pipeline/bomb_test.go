package pipeline

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/journal"
)

// mimeBomb is a multipart/mixed nested depth levels deep (8000 levels:
// 430 KB, the size that took enmime 29 s for two of them).
func mimeBomb(depth int) string {
	var b strings.Builder
	b.WriteString("From: x@evil.test\r\nTo: help@help.test\r\nSubject: boom\r\nMessage-ID: <bomb" + fmt.Sprint(depth) + "@evil.test>\r\n" +
		"Content-Type: multipart/mixed; boundary=b0.\r\n\r\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d.\r\nContent-Type: multipart/mixed; boundary=b%d.\r\n\r\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d.\r\nContent-Type: text/plain\r\n\r\nboom\r\n", depth-1)
	return b.String()
}

// TestMIMEBombsDoNotDelayANormalEmail: two MIME bombs stored before a
// normal email, one worker: the bombs are kept for operators as too
// complex and the normal email is in its conversation within the
// per-email budget of its 250 (it took 29.5 s before mailmsg). This is a
// bound on a shared machine, not a measurement: BenchmarkParseMIMEBomb in
// mailmsg measures.
func TestMIMEBombsDoNotDelayANormalEmail(t *testing.T) {
	f := newPipeFixture(t)
	f.run("node", func(p *Pipeline) { p.Workers = 1 })
	var bombs []string
	for _, depth := range []int{8000, 8001} {
		rc, err := f.recv.Receive(context.Background(), inbound.Envelope{MailFrom: "x@evil.test", Rcpts: []string{"help@help.test"},
			RemoteIP: "192.0.2.66", Helo: "evil.test", Proto: "ESMTP"}, strings.NewReader(mimeBomb(depth)))
		if err != nil {
			t.Fatal(err)
		}
		bombs = append(bombs, rc.ID)
	}
	start := time.Now()
	normal := f.send(t, "ann@fast.test", "help@help.test", "n@fast.test", "")
	waitUntil(t, "the normal email is processed", func() bool { return !f.pending(t)[normal] })
	if d := time.Since(start); d > intake.DefaultBudget {
		t.Errorf("the normal email took %s after two MIME bombs, over the budget of %s", d, intake.DefaultBudget)
	}
	waitUntil(t, "the bombs are processed", func() bool { return len(f.pending(t)) == 0 })
	es, err := journal.Query(context.Background(), f.db, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	kept, sawNormal := 0, false
	for _, e := range es {
		switch e.StoredID {
		case normal:
			sawNormal = true
			if !strings.HasPrefix(e.Action, "created conversation") || e.Attention != "" {
				t.Errorf("normal email: %q (attention %q)", e.Action, e.Attention)
			}
		case bombs[0], bombs[1]:
			if strings.HasPrefix(e.Attention, "too complex") {
				kept++
			}
		}
	}
	if kept != 2 {
		t.Errorf("%d of 2 bombs kept for operators as too complex", kept)
	}
	if !sawNormal {
		t.Error("no journal entry for the normal email")
	}
}
