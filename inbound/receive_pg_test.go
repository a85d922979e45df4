package inbound

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// Two nodes on one PostgreSQL database accept the same email at the same
// moment (a client that retries on the other MX): it is stored once, and
// the other node answers that it is a duplicate of the same stored id.
// Accepts declare their locks (AcceptLocks), so they run side by side and
// only the dedupe lock makes them take turns.
func TestSameEmailOnTwoNodesIsStoredOncePostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	var nodes [2]*Receiver
	for i := range nodes {
		db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = &Receiver{DB: db, Clock: clk, Hostname: fmt.Sprintf("mx%d.test", i), Limits: Limits{}}
	}
	const rounds = 30
	for i := range rounds {
		msg := fmt.Sprintf("Message-ID: <same-%d@x>\r\nFrom: ann@client.test\r\n\r\nbody %d\r\n", i, i)
		var wg sync.WaitGroup
		var rc [2]Receipt
		var errs [2]error
		for n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc[n], errs[n] = nodes[n].Receive(context.Background(), env, strings.NewReader(msg))
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v %v", i, errs[0], errs[1])
		}
		if rc[0].Duplicate == rc[1].Duplicate || rc[0].ID != rc[1].ID {
			t.Fatalf("round %d: receipts %+v and %+v; want one stored, one duplicate of it", i, rc[0], rc[1])
		}
	}
	var pending int
	_ = nodes[0].DB.View(context.Background(), func(tx *store.Tx) error { pending = tx.Count(bucketPending); return nil })
	if pending != rounds {
		t.Errorf("%d emails pending; want %d (one per email)", pending, rounds)
	}
}
