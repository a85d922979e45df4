package e2e

import (
	"os"
	"sync"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// The suite runs on both backends: DESKMAIL_TEST_STORE=postgres starts
// every daemon, CLI command and direct store access of a data folder on
// a PostgreSQL database of its own (`make test` runs the suite both ways).
// The data folder then keeps only the node's own files.

func onPostgres() bool { return os.Getenv("DESKMAIL_TEST_STORE") == "postgres" }

var (
	storesMu sync.Mutex
	stores   = map[string]string{} // data folder -> database URL
)

// storeFor returns the --store of the data folder dir ("" on bbolt),
// creating its database on first use; it is dropped when t ends.
func storeFor(t testing.TB, dir string) string {
	storesMu.Lock()
	defer storesMu.Unlock()
	if u, ok := stores[dir]; ok {
		return u // set by useStore too, in either pass
	}
	if !onPostgres() {
		return ""
	}
	u := pgtest.NewDatabase(t)
	stores[dir] = u
	t.Cleanup(func() {
		storesMu.Lock()
		delete(stores, dir)
		storesMu.Unlock()
	})
	return u
}

// storeArgs are the flags that put a daemon of dir on its store.
func storeArgs(t testing.TB, dir string) []string {
	if u := storeFor(t, dir); u != "" {
		return []string{"--store", u}
	}
	return nil
}

// storeEnv adds DESKMAIL_STORE for a CLI command whose --data names a
// folder: the folder's database.
func storeEnv(t testing.TB, env []string, args []string) []string {
	for i, a := range args {
		if a == "--data" && i+1 < len(args) {
			if u := storeFor(t, args[i+1]); u != "" {
				return append(env, "DESKMAIL_STORE="+u)
			}
		}
	}
	return env
}

// openStore opens dir's store directly (the daemon stopped, or any time
// on PostgreSQL).
func openStore(t testing.TB, dir string) *store.DB {
	t.Helper()
	db, err := store.OpenStore(storeFor(t, dir), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// bboltOnly skips a scenario about the data folder's bbolt file itself
// (its lock, compact) when the suite runs on PostgreSQL.
func bboltOnly(t *testing.T) {
	if onPostgres() {
		t.Skip("about the bbolt data folder; the PostgreSQL store has its own tests")
	}
}

// useStore puts the data folder dir on the database url (a second node of
// an existing one), or on its bbolt file for url "" in either pass.
func useStore(dir, url string) {
	storesMu.Lock()
	stores[dir] = url
	storesMu.Unlock()
}
