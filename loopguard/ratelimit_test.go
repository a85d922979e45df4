package loopguard

import (
	"fmt"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestAllowSenderLimit(t *testing.T) {
	g := New(Options{RateLimit: 3, RateWindow: 30 * time.Second})
	for i := 0; i < 3; i++ {
		if ok, r := g.AllowSender("a@example.org", "c1", t0); !ok {
			t.Fatalf("message %d refused: %s", i, r)
		}
	}
	ok, reason := g.AllowSender("A@Example.org", "c1", t0)
	if ok || reason == "" {
		t.Fatalf("fourth message in the same instant allowed (reason %q)", reason)
	}
	if ok, _ := g.AllowSender("a@example.org", "c2", t0); !ok {
		t.Error("another conversation of the same sender is limited separately")
	}
	if ok, _ := g.AllowSender("b@example.org", "c1", t0); !ok {
		t.Error("another sender in the same conversation is limited separately")
	}
	// One token comes back every window/limit = 10s.
	if ok, _ := g.AllowSender("a@example.org", "c1", t0.Add(10*time.Second)); !ok {
		t.Error("refill after 10s refused")
	}
	if ok, _ := g.AllowSender("a@example.org", "c1", t0.Add(11*time.Second)); ok {
		t.Error("second message after one refill allowed")
	}
}

func TestAllowSenderBoundedMemory(t *testing.T) {
	g := New(Options{RateLimit: 2, RateWindow: time.Minute, MaxRateKeys: 100})
	for i := 0; i < 1000; i++ {
		g.AllowSender(fmt.Sprintf("s%d@example.org", i), "c", t0)
	}
	if n := g.trackedSenders(); n != 100 {
		t.Errorf("tracked %d keys, want the cap of 100", n)
	}
	// A window later every bucket is idle and is dropped.
	g.AllowSender("late@example.org", "c", t0.Add(time.Minute))
	if n := g.trackedSenders(); n != 1 {
		t.Errorf("tracked %d keys after a idle window, want 1", n)
	}
}

func TestCheckRate(t *testing.T) {
	g := New(Options{RateLimit: 1, RateWindow: time.Hour})
	human := Verdict{Class: Human, Reasons: []string{"no sign of automatic mail"}}
	if v := g.CheckRate(human, "a@example.org", "c", t0); v.Class != Human {
		t.Fatalf("first message: %s", v.Class)
	}
	bulk := Verdict{Class: Bulk}
	if v := g.CheckRate(bulk, "a@example.org", "c", t0); v.Class != Bulk {
		t.Fatalf("non-human verdicts pass unchanged, got %s", v.Class)
	}
	v := g.CheckRate(human, "a@example.org", "c", t0)
	if v.Class != Looping || v.Notify() || len(v.Reasons) != 2 {
		t.Fatalf("second human message: %+v", v)
	}
}

// TestGuardConcurrent is for -race: the daemon shares one Guard between
// SMTP sessions.
func TestGuardConcurrent(t *testing.T) {
	g := New(Options{RateLimit: 5, MaxRateKeys: 10, Secrets: corpusSecrets})
	raws := [][]byte{readCorpus(t, "24-postfix-dsn-user-unknown.eml"), readCorpus(t, "03-m365-oof.eml"), readCorpus(t, "46-binary-junk.eml")}
	done := make(chan struct{})
	for w := 0; w < 4; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; i < 50; i++ {
				g.Classify(Envelope{MailFrom: "a@b"}, raws[i%len(raws)])
				g.AllowSender(fmt.Sprintf("s%d@example.org", i%20), "c", t0.Add(time.Duration(i)*time.Second))
				g.Marker("x@y")
			}
		}()
	}
	for w := 0; w < 4; w++ {
		<-done
	}
	if n := g.trackedSenders(); n > 10 {
		t.Errorf("%d keys over the cap of 10", n)
	}
}
