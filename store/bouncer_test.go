package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// viaBouncer, set by TestBehindPgBouncer, sends the PostgreSQL tests'
// stores through a PgBouncer in transaction mode.
var viaBouncer bool

// pooled returns the URL a store of the database at url opens, and its
// options: url itself, or url through a fresh PgBouncer with url as the
// direct URL.
func pooled(t *testing.T, url string) (string, store.Options) {
	return pooledOpts(t, url, store.Options{})
}

func pooledOpts(t *testing.T, url string, opts store.Options) (string, store.Options) {
	if !viaBouncer {
		return url, opts
	}
	b := pgtest.StartBouncer(t)
	opts.Direct = url
	return b.URL(url), opts
}

// The store behind PgBouncer in transaction mode (every transaction on
// whichever server connection is free): the two-node, lock, bus and
// follower tests again, with the nodes' pools through the bouncer and
// only their LISTEN connection and migrations direct. (The seam tests
// run through it as the "pgbouncer" backend.)
func TestBehindPgBouncer(t *testing.T) {
	pgtest.StartBouncer(t) // skips, or fails in CI, without the binary
	viaBouncer = true
	defer func() { viaBouncer = false }()
	for _, c := range []struct {
		name string
		fn   func(*testing.T)
	}{
		{"TwoNodesLoseNoUpdate", TestTwoNodesLoseNoUpdate},
		{"NotesReachTheOtherNodeOnlyAfterCommit", TestNotesReachTheOtherNodeOnlyAfterCommit},
		{"TryExclusiveRunsOnOneNode", TestTryExclusiveRunsOnOneNode},
		{"LostConnectionFailsTheWrite", TestLostConnectionFailsTheWrite},
		{"DeclaredLocksRunSideBySide", TestDeclaredLocksRunSideBySide},
		{"SharedLocks", TestSharedLocks},
		{"TryLockSkipsAndReadsAfresh", TestTryLockSkipsAndReadsAfresh},
		{"TryLockAllAnswersEachInItsPlace", TestTryLockAllAnswersEachInItsPlace},
		{"TryLockAllLimitReadsOnlyHeldAndWithinBytes", TestTryLockAllLimitReadsOnlyHeldAndWithinBytes},
		{"JournalFollowerSeesLateCommits", TestJournalFollowerSeesLateCommits},
		{"FailedBarrierLeavesNoLock", TestFailedBarrierLeavesNoLock},
		{"BarrierWaitsOnlyForHoldersInFlight", TestBarrierWaitsOnlyForHoldersInFlight},
	} {
		t.Run(c.name, c.fn)
	}
}

// A daemon's store (Listen) refuses a URL through a transaction pooler
// without a direct URL, naming the key that fixes it; a command's store
// (no Listen) works through it.
func TestPoolerWithoutDirectURL(t *testing.T) {
	b := pgtest.StartBouncer(t)
	url := pgtest.NewDatabase(t)
	_, err := store.OpenPostgres(context.Background(), b.URL(url), t.TempDir(), store.Options{Listen: true})
	if err == nil || !strings.Contains(err.Error(), "store-direct") || !strings.Contains(err.Error(), "transaction") {
		t.Fatalf("a listening store through a transaction pooler opened without a direct URL: %v", err)
	}
	db, err := store.OpenPostgres(context.Background(), b.URL(url), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
	// Straight to the database the store never takes itself for pooled.
	direct, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{Listen: true})
	if err != nil {
		t.Fatalf("a direct URL was taken for a pooler: %v", err)
	}
	direct.Close()
}

// A direct URL must reach the same database, and directly.
func TestDirectURLIsChecked(t *testing.T) {
	b := pgtest.StartBouncer(t)
	url, other := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	_, err := store.OpenPostgres(context.Background(), b.URL(url), t.TempDir(), store.Options{Direct: other})
	if err == nil || !strings.Contains(err.Error(), "same database") {
		t.Errorf("a direct URL to another database: %v", err)
	}
	_, err = store.OpenPostgres(context.Background(), b.URL(url), t.TempDir(), store.Options{Direct: b.URL(url)})
	if err == nil || !strings.Contains(err.Error(), "store-direct") {
		t.Errorf("a direct URL through the pooler: %v", err)
	}
}
