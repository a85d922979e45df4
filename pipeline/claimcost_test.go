package pipeline

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
)

// A measurement, not a check (DESKMAIL_CLAIM_COST=1 runs it): a claim
// transaction of 64 stored emails of 208 KB each on PostgreSQL, timed
// and its raw bytes counted, reading them as c2f0935 did (store.Reads of
// every candidate's record and raw bytes in the first round trip) and as
// the claim does now (inbound.LockForClaimLoading: after the locks, of
// the locks taken, raw bytes up to claimRawBytes), alternately. A claim
// shares its batch with accepts, which wait for it. See PERFORMANCE.md.
func TestClaimCostPostgres(t *testing.T) {
	if os.Getenv("DESKMAIL_CLAIM_COST") == "" {
		t.Skip("a measurement: DESKMAIL_CLAIM_COST=1 runs it")
	}
	f, dbB, _ := twoNodesOnPostgres(t)
	body := strings.Repeat("Lorem ipsum dolor sit amet, consectetur adipiscing elit "+fmt.Sprint(time.Now().UnixNano())+"\r\n", 190<<10/72)
	var ids []string
	for i := range 64 {
		rc, err := f.recv.Receive(context.Background(), inbound.Envelope{MailFrom: fmt.Sprintf("c%d@n.test", i), Rcpts: []string{"help@help.test"}, RemoteIP: "192.0.2.10", Helo: "mx.test", Proto: "ESMTP"},
			strings.NewReader(fmt.Sprintf("From: c%d@n.test\r\nTo: help@help.test\r\nSubject: x%d\r\nMessage-ID: <m%d@n.test>\r\n\r\n%s", i, i, i, body)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rc.ID)
	}
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = []byte(id)
	}
	for round := range 6 {
		for _, mode := range []string{"old", "new"} {
			var n int
			t0 := time.Now()
			opts := []store.UpdateOption{store.Locks()}
			if mode == "old" {
				opts = append(opts, store.Reads("inbound", keys...), store.Reads("inbound_raw", keys...))
			}
			err := dbB.Update(context.Background(), func(tx *store.Tx) error {
				n = 0
				if mode == "old" {
					if _, err := inbound.LockForClaim(tx, ids); err != nil {
						return err
					}
					for _, id := range ids {
						n += len(tx.Get("inbound_raw", []byte(id)))
					}
					return nil
				}
				_, l, err := inbound.LockForClaimLoading(tx, ids, claimRawBytes)
				for _, id := range ids {
					if tx.Fetched("inbound_raw", []byte(id)) {
						n += len(tx.Get("inbound_raw", []byte(id)))
					}
				}
				_ = l
				return err
			}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("round %d %s: claim transaction %.1f ms, raw bytes read %d", round, mode, float64(time.Since(t0).Microseconds())/1000, n)
		}
	}
}
