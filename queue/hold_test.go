package queue

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

func TestAckBeforeHoldEndsSendsNothing(t *testing.T) {
	e := newEnv(t)
	m := e.post("the printer is on fire")
	if got := e.status(m, "ann"); got != "held" {
		t.Fatalf("status after post = %q, want held", got)
	}
	if _, err := e.svc.Seen(context.Background(), "ann", "c1", m); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(DefaultHold + time.Second)
	if n := e.process(); n != 0 {
		t.Errorf("processed %d jobs after an ack, want 0", n)
	}
	if len(e.tr.emails()) != 0 {
		t.Errorf("sent %d emails, want none", len(e.tr.emails()))
	}
	if got := e.status(m, "ann"); got != "cancelled (seen)" {
		t.Errorf("status = %q, want cancelled (seen)", got)
	}
	if got, want := e.statuses(), []string{"held", "cancelled (seen)"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
	// An ack after the email left, or a second one, is not an error.
	if _, err := e.svc.Seen(context.Background(), "ann", "c1", m); err != nil {
		t.Error(err)
	}
}

func TestNoAckSendsExactlyOneWhenTheHoldEnds(t *testing.T) {
	e := newEnv(t)
	m := e.post("the printer is on fire")
	e.clk.Advance(DefaultHold - 2*time.Second)
	if n := e.process(); n != 0 {
		t.Fatalf("processed %d jobs before the hold ended", n)
	}
	e.clk.Advance(2 * time.Second)
	if n := e.process(); n != 1 {
		t.Fatalf("processed %d jobs when the hold ended, want 1", n)
	}
	e.clk.Advance(time.Hour)
	e.process()
	got := e.tr.emails()
	if len(got) != 1 {
		t.Fatalf("sent %d emails, want exactly 1", len(got))
	}
	if got[0].to != "ann@client.test" || !strings.HasPrefix(got[0].from, "bounce+") {
		t.Errorf("envelope %s -> %s", got[0].from, got[0].to)
	}
	if !strings.Contains(got[0].body, "the printer is on fire") {
		t.Errorf("the email does not list the message:\n%s", got[0].body)
	}
	if s := e.status(m, "ann"); s != "sent" {
		t.Errorf("status = %q, want sent", s)
	}
	if got, want := e.statuses(), []string{"held", "sending", "sent"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
	// Seen after the email left: recorded, nothing else changes.
	if _, err := e.svc.Seen(context.Background(), "ann", "c1", m); err != nil {
		t.Fatal(err)
	}
	if s := e.status(m, "ann"); s != "sent" {
		t.Errorf("status after a late ack = %q, want sent", s)
	}
}

func TestBurstOfThreeIsOneEmailListingThree(t *testing.T) {
	e := newEnv(t)
	texts := []string{"first words", "second words", "third words"}
	for _, s := range texts {
		e.post(s)
	}
	e.clk.Advance(DefaultHold)
	e.process()
	got := e.tr.emails()
	if len(got) != 1 {
		t.Fatalf("sent %d emails, want 1", len(got))
	}
	for _, s := range texts {
		if !strings.Contains(got[0].body, s) {
			t.Errorf("the email does not list %q", s)
		}
	}
	// The next message after the email left starts a new hold.
	e.post("fourth words")
	e.clk.Advance(DefaultHold)
	e.process()
	if got := e.tr.emails(); len(got) != 2 || strings.Contains(got[1].body, "first words") {
		t.Errorf("after the first email: %d emails, the second must list only the new message", len(got))
	}
}

func TestAckOfFirstOfTwoSendsTheSecondOnly(t *testing.T) {
	e := newEnv(t)
	first := e.post("first words")
	second := e.post("second words")
	if _, err := e.svc.Seen(context.Background(), "ann", "c1", first); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(DefaultHold)
	e.process()
	got := e.tr.emails()
	if len(got) != 1 {
		t.Fatalf("sent %d emails, want 1", len(got))
	}
	if strings.Contains(got[0].body, "first words") || !strings.Contains(got[0].body, "second words") {
		t.Errorf("want the second message only:\n%s", got[0].body)
	}
	if s := e.status(first, "ann"); s != "cancelled (seen)" {
		t.Errorf("first: %q", s)
	}
	if s := e.status(second, "ann"); s != "sent" {
		t.Errorf("second: %q", s)
	}
}

func TestHoldEndRechecksEverything(t *testing.T) {
	cases := []struct {
		name   string
		change func(e *env, msg string)
		want   string
	}{
		{"retracted message", func(e *env, msg string) {
			if _, err := e.svc.Retract(context.Background(), msg); err != nil {
				e.t.Fatal(err)
			}
		}, "cancelled (retracted)"},
		{"conversation turned internal", func(e *env, _ string) {
			e.update(func(tx *store.Tx) error {
				c, err := model.GetConversation(tx, "c1")
				if err != nil {
					return err
				}
				c.Kind = model.Internal
				return model.PutConversation(tx, &c)
			})
		}, "cancelled (conversation internal)"},
		{"recipient stopped following", func(e *env, _ string) {
			e.update(func(tx *store.Tx) error {
				c, err := model.GetConversation(tx, "c1")
				if err != nil {
					return err
				}
				c.Followers = slices.DeleteFunc(c.Followers, func(s string) bool { return s == "ann" })
				return model.PutConversation(tx, &c)
			})
		}, "cancelled (no longer a recipient)"},
		{"address suppressed", func(e *env, _ string) {
			e.update(func(tx *store.Tx) error {
				for range DefaultSuppressAfter {
					if err := e.q.hardBounce(tx, "Ann@Client.test", t0); err != nil {
						return err
					}
				}
				return nil
			})
		}, "suppressed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			m := e.post("hello")
			tc.change(e, m)
			e.clk.Advance(DefaultHold)
			e.process()
			if n := len(e.tr.emails()); n != 0 {
				t.Errorf("sent %d emails, want none", n)
			}
			if got := e.status(m, "ann"); got != tc.want {
				t.Errorf("status = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHoldIsConfigurable(t *testing.T) {
	e := newEnv(t)
	e.q.HoldFor = 5 * time.Minute
	e.post("hello")
	e.clk.Advance(DefaultHold)
	if e.process() != 0 {
		t.Fatal("sent before a 5-minute hold ended")
	}
	e.clk.Advance(5 * time.Minute)
	if e.process() != 1 {
		t.Fatal("not sent when the 5-minute hold ended")
	}
}
