package queue

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

func TestTemporaryFailureIsDeferredWithBackoffThenSent(t *testing.T) {
	e := newEnv(t)
	e.tr.fail = func(n int) error {
		if n <= 2 {
			return errTemp
		}
		return nil
	}
	e.post("hello")
	e.clk.Advance(DefaultHold)
	e.process()
	es, _ := journal.Query(context.Background(), e.db, journal.Filter{Direction: journal.Out, Status: journal.StatusDeferred})
	if len(es) != 1 || es[0].NextAttempt == nil || !es[0].NextAttempt.Equal(e.clk.Now().Add(time.Minute)) {
		t.Fatalf("deferred entries %+v, want one with the next attempt a minute later", es)
	}
	if !strings.Contains(es[0].Reason, "try again later") {
		t.Errorf("reason %q", es[0].Reason)
	}
	e.clk.Advance(59 * time.Second)
	if e.process() != 0 {
		t.Fatal("retried before the backoff ended")
	}
	e.clk.Advance(time.Second)
	e.process() // fails again: next in 2 minutes
	e.clk.Advance(2 * time.Minute)
	e.process()
	if n := len(e.tr.emails()); n != 1 {
		t.Fatalf("sent %d, want 1", n)
	}
	want := []string{"held", "sending", "deferred", "sending", "deferred", "sending", "sent"}
	if got := e.statuses(); !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
}

func TestTemporaryFailuresUntilMaxAgeFail(t *testing.T) {
	e := newEnv(t)
	e.q.MaxAge = 3 * time.Hour
	e.tr.fail = func(int) error { return errTemp }
	m := e.post("hello")
	e.clk.Advance(DefaultHold)
	for range 20 {
		e.process()
		e.clk.Advance(time.Hour)
	}
	if s := e.status(m, "ann"); s != "failed" {
		t.Fatalf("status = %q, want failed", s)
	}
	got := e.statuses()
	if got[len(got)-1] != "failed" || e.tr.n > 8 {
		t.Errorf("journal = %q after %d attempts", got, e.tr.n)
	}
}

func TestPermanentFailureFailsAndRepeatedOnesSuppress(t *testing.T) {
	e := newEnv(t)
	e.tr.fail = func(int) error { return Permanent(errors.New("550 5.1.1 no such user")) }
	for i := range DefaultSuppressAfter + 1 {
		m := e.post("hello")
		e.clk.Advance(DefaultHold)
		e.process()
		want := "failed"
		if i == DefaultSuppressAfter {
			want = "suppressed"
		}
		if s := e.status(m, "ann"); s != want {
			t.Errorf("email %d: status %q, want %q", i+1, s, want)
		}
	}
	if e.tr.n != DefaultSuppressAfter {
		t.Errorf("%d attempts, want %d (none once suppressed)", e.tr.n, DefaultSuppressAfter)
	}
	e.update(func(tx *store.Tx) error {
		ok, err := ClearSuppression(tx, "ANN@client.test")
		if !ok {
			t.Error("ClearSuppression found nothing")
		}
		return err
	})
	e.tr.fail = nil
	m := e.post("hello again")
	e.clk.Advance(DefaultHold)
	e.process()
	if s := e.status(m, "ann"); s != "sent" {
		t.Errorf("after clearing: %q, want sent", s)
	}
}

func TestExpiredLeaseIsRetriedAndTheOldOutcomeDropped(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	e.clk.Advance(DefaultHold)
	var first []Lease
	e.update(func(tx *store.Tx) error {
		var err error
		first, err = e.q.Lease(tx, e.clk.Now(), 10, e.w.Composer)
		return err
	})
	if len(first) != 1 {
		t.Fatalf("leased %d", len(first))
	}
	// The sender dies. Before the lease ends nobody else gets the job.
	e.clk.Advance(DefaultLease - time.Second)
	if e.process() != 0 {
		t.Fatal("a leased job was handed out again before its lease ended")
	}
	e.clk.Advance(time.Second)
	if e.process() != 1 {
		t.Fatal("the job of an expired lease was not retried")
	}
	// The first sender's late outcome must not change the job.
	e.update(func(tx *store.Tx) error {
		return e.q.Complete(tx, first[0], Result{}, errTemp, e.clk.Now())
	})
	e.view(func(tx *store.Tx) error {
		j, err := GetJob(tx, first[0].Job.ID)
		if j.State != StateSent || j.Attempts != 2 || j.MessageID != first[0].Job.MessageID {
			t.Errorf("job %+v, want sent on attempt 2 with the same Message-ID", j)
		}
		return err
	})
}

func TestReleaseStaleAfterACrash(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	e.post("other")
	e.clk.Advance(DefaultHold)
	e.update(func(tx *store.Tx) error {
		_, err := e.q.Lease(tx, e.clk.Now(), 10, e.w.Composer)
		return err
	})
	var n int
	e.update(func(tx *store.Tx) error {
		var err error
		n, err = e.q.ReleaseStale(tx, e.clk.Now())
		return err
	})
	if n != 1 {
		t.Fatalf("released %d leases, want 1", n)
	}
	if e.process() != 1 || len(e.tr.emails()) != 1 {
		t.Fatal("the released job was not sent at once")
	}
}

func TestRecordBounce(t *testing.T) {
	for _, by := range []string{"verp", "message-id"} {
		t.Run(by, func(t *testing.T) {
			e := newEnv(t)
			m := e.post("hello")
			e.clk.Advance(DefaultHold)
			e.process()
			s := e.tr.emails()[0]
			id := ParseVERP(s.from)
			if id == "" {
				t.Fatalf("envelope sender %q is not a VERP address", s.from)
			}
			if by == "message-id" {
				id = s.msg.Header.Get("Message-ID")
			}
			e.update(func(tx *store.Tx) error {
				_, err := e.q.RecordBounce(tx, id, loopguard.BounceReport{Recipient: "ann@client.test",
					Status: "5.1.1", Diagnostic: "550 5.1.1 user unknown", Action: "failed"})
				return err
			})
			if got := e.status(m, "ann"); got != "bounced" {
				t.Errorf("status %q, want bounced", got)
			}
			es, _ := journal.Query(context.Background(), e.db, journal.Filter{Status: journal.StatusBounced})
			if len(es) != 1 || !strings.Contains(es[0].Reason, "5.1.1 550 5.1.1 user unknown") {
				t.Errorf("bounced entries %+v", es)
			}
		})
	}
	e := newEnv(t)
	e.update(func(tx *store.Tx) error {
		if _, err := e.q.RecordBounce(tx, "nosuchjob", loopguard.BounceReport{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown job: %v, want ErrNotFound", err)
		}
		return nil
	})
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	b := Backoff{Base: time.Minute, Max: 10 * time.Minute, Jitter: 0.2, Rand: func() float64 { return 0.5 }}
	for i, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute} {
		if got := b.Delay(i + 1); got != want {
			t.Errorf("attempt %d: %v, want %v", i+1, got, want)
		}
	}
	b.Rand = func() float64 { return 0 }
	if got := b.Delay(1); got != 48*time.Second {
		t.Errorf("jitter low end: %v, want 48s", got)
	}
}

// On a shared store a restarted node gives back its own leases at once and
// leaves another node's lease (maybe a delivery in flight) to expire.
func TestReleaseOwnLeavesOtherNodesLeases(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	e.clk.Advance(DefaultHold)
	e.q.Owner = "node-b"
	var leased []Lease
	e.update(func(tx *store.Tx) (err error) {
		leased, err = e.q.Lease(tx, e.clk.Now(), 10, e.w.Composer)
		return err
	})
	if len(leased) != 1 || leased[0].Job.Owner != "node-b" {
		t.Fatalf("leased %+v, want one job owned by node-b", leased)
	}
	release := func(owner string) int {
		e.q.Owner = owner
		var n int
		e.update(func(tx *store.Tx) (err error) {
			n, err = e.q.ReleaseOwn(tx, e.clk.Now())
			return err
		})
		return n
	}
	if n := release("node-a"); n != 0 {
		t.Errorf("node A released %d of node B's leases", n)
	}
	if n := release("node-b"); n != 1 {
		t.Errorf("node B released %d of its own leases, want 1", n)
	}
}

// A job stored by an earlier version (no fence; the lease's owner, its
// attempts and its due time as they were) loads with its lease, is left
// alone until that lease runs out, and is then taken over and sent.
func TestJobOfAnEarlierVersionIsTakenOver(t *testing.T) {
	e := newEnv(t)
	e.post("hello")
	e.clk.Advance(DefaultHold)
	var first []Lease
	e.update(func(tx *store.Tx) (err error) {
		first, err = e.q.Lease(tx, e.clk.Now(), 10, e.w.Composer)
		return err
	})
	if len(first) != 1 {
		t.Fatalf("leased %d", len(first))
	}
	id := first[0].Job.ID
	// Rewrite it as the earlier version stored it: no fence, a lease
	// owner of a shared store.
	e.update(func(tx *store.Tx) error {
		var m map[string]any
		if err := json.Unmarshal(tx.Get(bJobs, []byte(id)), &m); err != nil {
			return err
		}
		if m["fence"] != float64(1) {
			t.Errorf("stored fence %v, want 1", m["fence"])
		}
		delete(m, "fence")
		m["lease_owner"] = "old-node"
		v, _ := json.Marshal(m)
		return tx.Put(bJobs, []byte(id), v)
	})
	e.view(func(tx *store.Tx) error {
		j, err := GetJob(tx, id)
		if j.Owner != "old-node" || j.Fence != 0 || j.Attempts != 1 || j.State != StateSending || !j.Until.Equal(j.Due) || !j.Next.IsZero() {
			t.Errorf("old job read as %+v", j)
		}
		return err
	})
	e.clk.Advance(DefaultLease - time.Second)
	if e.process() != 0 {
		t.Fatal("an earlier version's live lease was taken")
	}
	e.clk.Advance(time.Second)
	if e.process() != 1 {
		t.Fatal("an earlier version's expired lease was not taken over")
	}
	e.view(func(tx *store.Tx) error {
		j, err := GetJob(tx, id)
		if j.State != StateSent || j.Attempts != 2 || j.Fence != 1 || j.Owner != "" {
			t.Errorf("after the takeover: %+v", j)
		}
		return err
	})
}
