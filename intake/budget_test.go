package intake

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// TestReadingOverBudgetIsKeptAsTooComplex: an email whose reading does
// not end within the budget is kept for operators as too complex, and
// the worker is given back at once; a later email is read as usual.
func TestReadingOverBudgetIsKeptAsTooComplex(t *testing.T) {
	db, step, m := threadFixture(t)
	clk := clock.NewFake(time.Now())
	step.Clock, step.Budget = clk, 3*time.Second
	release := make(chan struct{})
	step.read = func(m inbound.Meta, raw []byte) reading {
		<-release // a reading that never ends by itself
		return step.readEmail(m, raw)
	}
	type stepped struct {
		res Result
		err error
	}
	done := make(chan stepped, 1)
	go func() {
		res, err := step.Step(context.Background(), m)
		done <- stepped{res, err}
	}()
	waitfor.Until(t, 10*time.Second, "the step is parked on its budget", func() bool { return clk.Waiters() > 0 })
	select {
	case <-done:
		t.Fatal("the step returned before its budget ran out")
	default:
	}
	clk.Advance(3 * time.Second)
	s := <-done
	close(release)
	if s.err != nil {
		t.Fatal(s.err)
	}
	if err := db.Update(context.Background(), s.res.Apply); err != nil {
		t.Fatal(err)
	}
	e := entryOf(t, db, m.JournalID)
	if e.Attention != "too complex: not read within 3s" || e.Conversation != "" || !strings.HasPrefix(e.Action, "kept for operators") {
		t.Errorf("entry: attention %q, conversation %q, action %q", e.Attention, e.Conversation, e.Action)
	}
	step.read = nil
	if e := runStep(t, db, step, m); e.Conversation != "c1" {
		t.Errorf("read within the budget: conversation %q, action %q", e.Conversation, e.Action)
	}
}

// TestMIMEBombIsKeptAsTooComplex: a person's email nested past the caps
// is classified, not posted half read, and kept for operators.
func TestMIMEBombIsKeptAsTooComplex(t *testing.T) {
	db, step, _ := threadFixture(t)
	var b strings.Builder
	b.WriteString("From: ann@client.test\r\nTo: x@help.test\r\nSubject: Re: hi\r\nMessage-ID: <bomb@client.test>\r\n" +
		"References: <root@help.test>\r\nContent-Type: multipart/mixed; boundary=b0.\r\n\r\n")
	for i := 1; i < 16000; i++ {
		fmt.Fprintf(&b, "--b%d.\r\nContent-Type: multipart/mixed; boundary=b%d.\r\n\r\n", i-1, i)
	}
	b.WriteString("--b15999.\r\nContent-Type: text/plain\r\n\r\nhello\r\n")
	m := receive(t, db, step, inbound.Envelope{MailFrom: "ann@client.test", Rcpts: []string{"x@help.test"}, Proto: "ESMTP"}, b.String())
	e := runStep(t, db, step, m)
	if !strings.HasPrefix(e.Attention, "too complex: MIME nesting too deep") || e.Class != "human" || e.Conversation != "" {
		t.Errorf("entry: attention %q, class %q, conversation %q", e.Attention, e.Class, e.Conversation)
	}
	var n int
	_ = db.View(func(tx *store.Tx) error {
		ms, err := model.Messages(tx, "c1", 10)
		n = len(ms)
		return err
	})
	if n != 0 {
		t.Errorf("%d messages appended", n)
	}
}
