package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

func TestPruneDropsFinishedJobsOnly(t *testing.T) {
	e := newEnv(t)
	sent := e.post("sent one")
	e.clk.Advance(DefaultHold)
	e.process()
	seen := e.post("seen one")
	if _, err := e.svc.Seen(context.Background(), "ann", "c1", seen); err != nil {
		t.Fatal(err)
	}
	e.q.HoldFor = 100 * time.Hour // still held when the others are pruned
	held := e.post("held one")
	e.clk.Advance(80 * time.Hour)
	n, err := Prune(context.Background(), e.db, e.clk.Now().Add(-72*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("pruned %d (%v), want the sent and the cancelled job", n, err)
	}
	for msg, want := range map[string]string{sent: "", seen: "", held: "held"} {
		if got := e.status(msg, "ann"); got != want {
			t.Errorf("status of %s = %q, want %q", msg, got, want)
		}
	}
	e.view(func(tx *store.Tx) error {
		jobs, err := List(tx, 10)
		if len(jobs) != 1 {
			t.Errorf("%d live jobs, want 1", len(jobs))
		}
		if _, err := GetJob(tx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Error(err)
		}
		return err
	})
}
