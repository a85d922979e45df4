package model

import (
	"context"
	"testing"
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// What the inbound commit looks up first, named for its first round
// trip (InboundReads), leaves PrefetchInbound nothing to read, and the
// lookups answer as the database would.
func TestInboundReadsLeavePrefetchNothingToRead(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	ctx := context.Background()
	if err := db.Update(ctx, func(tx *store.Tx) error {
		if _, err := AddCustomer(tx, "p1", "Ann", "ann@client.test", time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), false); err != nil {
			return err
		}
		return IndexMessageID(tx, "<ref@client.test>", "c1")
	}); err != nil {
		t.Fatal(err)
	}
	refs := []string{"<ref@client.test>"}
	args := func(tx *store.Tx) {
		PrefetchInbound(tx, "ekey", "ann@client.test", "<new@client.test>", nil, refs)
	}
	for _, declared := range []bool{true, false} {
		var opts []store.UpdateOption
		if declared {
			opts = InboundReads("ekey", "ann@client.test", "<new@client.test>", nil, refs)
		}
		before := db.RoundTrips()
		err := db.Update(ctx, func(tx *store.Tx) error {
			args(tx)
			p, err := PersonByEmail(tx, "ann@client.test")
			if err != nil || p.ID != "p1" {
				t.Errorf("person: %+v, %v", p, err)
			}
			if c, ok := ConversationByMessageID(tx, "<ref@client.test>"); !ok || c != "c1" {
				t.Errorf("reference: %q %v", c, ok)
			}
			if _, ok := EmailAppended(tx, "ekey"); ok {
				t.Error("email appended")
			}
			if ids, err := (View{Tx: tx}).UsersNotifiedOfAll(notify.OriginCustomer); err != nil || len(ids) != 0 {
				t.Errorf("users notified of all: %v, %v", ids, err)
			}
			return nil
		}, append(opts, store.Locks(AddressLock("ann@client.test"), PersonLock("p1"), EmailKeyLock("ekey"),
			MessageIDLock("<ref@client.test>")))...)
		if err != nil {
			t.Fatal(err)
		}
		// BEGIN with the reads; the person's record by its id; COMMIT;
		// and without the names, PrefetchInbound's own round trip.
		want := int64(3)
		if !declared {
			want = 4
		}
		if n := db.RoundTrips() - before; n != want {
			t.Errorf("declared %v: %d round trips, want %d", declared, n, want)
		}
	}
}
