package queue

import (
	"errors"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

// TestViewsForTheConsole: the live counts, the finished jobs that went
// wrong (newest first, only the states asked for) and what became of one
// notification.
func TestViewsForTheConsole(t *testing.T) {
	e := newEnv(t)
	e.tr.fail = func(n int) error {
		if n == 1 {
			return Permanent(errors.New("550 no such user"))
		}
		return nil
	}
	first := e.post("one")
	e.clk.Advance(2 * time.Minute)
	e.process() // the first email fails for good
	second := e.post("two")
	e.view(func(tx *store.Tx) error {
		counts, err := Counts(tx)
		if err != nil || counts[StateHeld] != 1 || len(counts) != 1 {
			t.Errorf("counts %v, %v: want one held", counts, err)
		}
		failed, err := Finished(tx, 10, StateFailed, StateBounced)
		if err != nil || len(failed) != 1 || failed[0].State != StateFailed || failed[0].Messages[0] != first {
			t.Errorf("finished: %+v, %v", failed, err)
		}
		if none, _ := Finished(tx, 10, StateSent); len(none) != 0 {
			t.Errorf("sent jobs: %+v, want none", none)
		}
		d, ok, err := DeliveryOf(tx, second, "ann")
		if err != nil || !ok || d.Job == "" || d.Job == failed[0].ID {
			t.Errorf("delivery of the second message: %+v %v %v", d, ok, err)
		}
		if _, ok, _ := DeliveryOf(tx, second, "agent"); ok {
			t.Error("the author has a delivery of their own message")
		}
		return nil
	})
}
