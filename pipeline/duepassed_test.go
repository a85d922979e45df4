package pipeline

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/deskmail/deskmail/store"
)

// The dispatcher's skip counts what it passes over by why: an email in
// hand here or noted waiting is "skip", another node's under affinity is
// "foreign" (deskmail_inbound_due_passed_total, docs/OPERATIONS.md).
func TestSkipCountsWhatItPassesOver(t *testing.T) {
	now := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	p := &Pipeline{Affinity: time.Minute}
	p.init()
	inHand, waiting, foreign, free := store.NewID(now.Add(-time.Second)), store.NewID(now.Add(-time.Second)),
		store.NewID(now.Add(-time.Second)), store.NewID(now.Add(-2*time.Minute))
	p.inflight[inHand] = true
	p.notBefore[waiting] = now.Add(time.Second)
	skip0, foreign0 := testutil.ToFloat64(metricDuePassedSkip), testutil.ToFloat64(metricDuePassedForeign)
	skip := p.skip(now)
	for id, want := range map[string]bool{inHand: true, waiting: true, foreign: true, free: false} {
		if got := skip(id); got != want {
			t.Errorf("skip(%s) = %v, want %v", id, got, want)
		}
	}
	if d := testutil.ToFloat64(metricDuePassedSkip) - skip0; d != 2 {
		t.Errorf("skip counted %v, want 2 (in hand, noted waiting)", d)
	}
	if d := testutil.ToFloat64(metricDuePassedForeign) - foreign0; d != 1 {
		t.Errorf("foreign counted %v, want 1", d)
	}
}

// An email a claim left for a note is passed over as "held" while the
// note holds it back, and no longer once it does not (the earlier email
// in hand here).
func TestHeldCountsWhatItPassesOver(t *testing.T) {
	p := &Pipeline{}
	p.init()
	p.order.note("key", "early", 1)
	p.order.blocked["later"] = blockedEmail{seq: 2, keys: []string{"key"}}
	held0 := testutil.ToFloat64(metricDuePassedHeld)
	for range 2 {
		if !p.held("later") {
			t.Fatal("an email behind a noted earlier one is not passed over")
		}
	}
	if d := testutil.ToFloat64(metricDuePassedHeld) - held0; d != 2 {
		t.Errorf("held counted %v, want 2", d)
	}
	p.inflight["early"] = true
	if p.held("later") {
		t.Error("an email whose earlier one is in hand is passed over")
	}
	if d := testutil.ToFloat64(metricDuePassedHeld) - held0; d != 2 {
		t.Errorf("held counted %v after a pass it did not make, want 2", d)
	}
}
