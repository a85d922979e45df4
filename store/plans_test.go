package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// A write transaction's statements keep to kv's index however small kv
// was when their connection planned them: PostgreSQL plans a prepared
// statement once for good after a few runs (a generic plan), and a
// multi-row DELETE planned on a nearly empty kv (a new database, a node's
// first emails) was a hash join over a scan of the whole table, kept
// while kv grew to thousands of rows (until an ANALYZE, and never with
// autovacuum off): each delete then read every row.
func TestWritesKeepToTheIndexOnceKvGrows(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	// One committer, so that every batch runs on the same connection and
	// its plans.
	db, err := store.OpenPostgres(ctx, url, t.TempDir(), store.Options{Committers: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	seqScans := func() int64 {
		var n int64
		if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(ctx, `SELECT coalesce(seq_scan, 0) FROM pg_stat_user_tables WHERE relname = 'kv'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Deletes of several buckets at once (one multi-row DELETE), while
	// kv is tiny: more runs than PostgreSQL takes to settle on a plan.
	churn := func(round int) {
		if err := db.Update(ctx, func(tx *store.Tx) error {
			for _, b := range []string{"a", "b", "c", "d", "e"} {
				for k := range 2 {
					if err := tx.Delete(b, fmt.Appendf(nil, "gone-%d-%d", round, k)); err != nil {
						return err
					}
				}
			}
			return nil
		}, store.Locks()); err != nil {
			t.Fatal(err)
		}
	}
	grow := func(from, to int) {
		for i := from; i < to; i++ {
			if err := db.Update(ctx, func(tx *store.Tx) error {
				for j := range 100 {
					if err := tx.Put("big", fmt.Appendf(nil, "%04d-%04d", i, j), make([]byte, 200)); err != nil {
						return err
					}
				}
				return nil
			}, store.Locks()); err != nil {
				t.Fatal(err)
			}
		}
	}
	grow(0, 3) // a few dozen pages: a scan of them costs less than ten lookups
	for i := range 12 {
		churn(i)
	}
	grow(3, 60) // kv grows
	// A backend reports its counts at most once a second, and when it
	// exits: the counts are read once the store is closed, and cover
	// every delete (the early ones too: none may scan either).
	before := seqScans()
	for i := range 30 {
		churn(100 + i)
	}
	db.Close()
	after := seqScans()
	t.Logf("sequential scans of kv: %d before the last deletes, %d after", before, after)
	if after-before >= 10 {
		t.Errorf("%d sequential scans of kv for 42 multi-row deletes, 30 of them once kv had 6,000 rows", after-before)
	}
}
