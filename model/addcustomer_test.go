package model

import (
	"context"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// TestAddCustomerWritesItsRecordsOnly: a new customer (every email from a
// stranger) is its record, its address and nothing else: no delete of
// the users' index keys a fresh id cannot have, and, unverified, no
// second write of its record (MarkUnverified's). Counted as the rows a
// PostgreSQL write sends; the person reads back the same on bbolt.
func TestAddCustomerWritesItsRecordsOnly(t *testing.T) {
	now := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	for _, pg := range []bool{false, true} {
		var db *store.DB
		if pg {
			db = pgtest.Open(t, t.TempDir(), store.Options{})
		} else {
			var err error
			if db, err = store.Open(t.TempDir(), store.Options{}); err != nil {
				t.Fatal(err)
			}
			defer db.Close()
		}
		ctx := context.Background()
		id := store.NewID(now)
		before := db.RowsSent()
		if err := db.Update(ctx, func(tx *store.Tx) error {
			_, err := AddCustomer(tx, id, "Ann", "ann@client.test", now, true)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		sent := db.RowsSent()
		if pg && (sent.Deletes != before.Deletes || sent.Updates != before.Updates || sent.Upserts != before.Upserts) {
			t.Errorf("rows sent %+v, before %+v: want inserts only", sent, before)
		}
		if err := db.View(ctx, func(tx *store.Tx) error {
			p, err := PersonByEmail(tx, "ann@client.test")
			if err != nil || p.ID != id || !p.Unverified || !p.Created.Equal(now) || p.Name != "Ann" {
				t.Errorf("pg=%v: %+v %v", pg, p, err)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
}
