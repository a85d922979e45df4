package store_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// keyedDB opens a PostgreSQL store for the test and a plain connection to
// the same database, to watch its locks.
func keyedDB(t *testing.T, opts store.Options) (*store.DB, *pgx.Conn) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	open, opts := pooledOpts(t, url, opts)
	db, err := store.OpenPostgres(context.Background(), open, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return db, conn
}

// waitForLockWaiters polls pg_locks until n advisory lock requests of
// this database wait (a real wait in the database, not a sleep in the
// test), failing after a deadline.
func waitForLockWaiters(t *testing.T, conn *pgx.Conn, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d advisory lock waits; want %d", waiting, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdBatch starts a write with opts whose function blocks until release
// is closed; it returns once the function runs (its locks are held).
func holdBatch(t *testing.T, db *store.DB, release chan struct{}, fn func(*store.Tx) error, opts ...store.UpdateOption) chan error {
	t.Helper()
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(tx *store.Tx) error {
			if err := fn(tx); err != nil {
				return err
			}
			close(running)
			<-release
			return nil
		}, opts...)
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("held write ended early: %v", err)
	}
	return done
}

// Writes that declare their locks run side by side and wait only for a
// transaction that holds one of their names; a write that declares none
// waits for every one in flight.
func TestDeclaredLocksRunSideBySide(t *testing.T) {
	db, conn := keyedDB(t, store.Options{Committers: 4})
	nop := func(*store.Tx) error { return nil }
	release := make(chan struct{})
	held := holdBatch(t, db, release, nop, store.Locks("dedupe:a"))

	// Another name commits while "dedupe:a" is held (a second node's accept
	// of another email).
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.Put("b", []byte("other"), []byte("v"))
	}, store.Locks("dedupe:b")); err != nil {
		t.Fatal(err)
	}
	// The same name waits for the holder, and so does a write that
	// declares nothing.
	same := make(chan error, 1)
	go func() {
		same <- db.Update(context.Background(), func(tx *store.Tx) error {
			return tx.Put("b", []byte("same"), []byte("v"))
		}, store.Locks("dedupe:a"))
	}()
	waitForLockWaiters(t, conn, 1)
	alone := make(chan error, 1)
	go func() {
		alone <- db.Update(context.Background(), func(tx *store.Tx) error {
			return tx.Put("b", []byte("alone"), []byte("v"))
		})
	}()
	waitForLockWaiters(t, conn, 2)
	select {
	case err := <-same:
		t.Fatalf("a write of the held name committed while it was held: %v", err)
	case err := <-alone:
		t.Fatalf("a write without locks committed beside a keyed one: %v", err)
	default:
	}
	close(release)
	for _, c := range []chan error{held, same, alone} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
}

// Shared locks are held together and keep out the same name taken
// exclusively (seen-acks and leases beside each other; the pipeline's
// commit alone).
func TestSharedLocks(t *testing.T) {
	db, conn := keyedDB(t, store.Options{Committers: 4})
	nop := func(*store.Tx) error { return nil }
	release := make(chan struct{})
	held := holdBatch(t, db, release, nop, store.SharedLocks("domain"), store.Locks("seen:a"))
	if err := db.Update(context.Background(), nop, store.SharedLocks("domain"), store.Locks("job:1")); err != nil {
		t.Fatal(err)
	}
	excl := make(chan error, 1)
	go func() { excl <- db.Update(context.Background(), nop, store.Locks("domain", "email:1")) }()
	waitForLockWaiters(t, conn, 1)
	select {
	case err := <-excl:
		t.Fatalf("an exclusive lock was granted beside a shared one: %v", err)
	default:
	}
	close(release)
	for _, c := range []chan error{held, excl} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
}

// TryLock skips what another transaction holds (SKIP LOCKED), and a lock
// taken reads the key afresh: a value another node committed after this
// transaction first read it is what the caller sees.
func TestTryLockSkipsAndReadsAfresh(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	update(t, db, func(tx *store.Tx) error { return tx.Put("jobs", []byte("j1"), []byte("old")) })
	release := make(chan struct{})
	held := holdBatch(t, db, release, func(tx *store.Tx) error { return nil }, store.Locks("job:j1"))
	var got bool
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		got, err = tx.TryLock("job:j1")
		return err
	}, store.Locks()); err != nil {
		t.Fatal(err)
	}
	if got {
		t.Error("TryLock took a lock another transaction holds")
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}

	// Read before the lock, changed by another transaction, read afresh
	// once locked.
	var before, after string
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		before = string(tx.Get("jobs", []byte("j1")))
		// Another committer changes it now, under the job's lock.
		if err := db.Update(context.Background(), func(tx *store.Tx) error {
			return tx.Put("jobs", []byte("j1"), []byte("new"))
		}, store.Locks("job:j1")); err != nil {
			return err
		}
		got, err := tx.TryLock("job:j1", store.Key{Bucket: "jobs", Key: []byte("j1")})
		if err != nil || !got {
			t.Errorf("TryLock: %v %v", got, err)
		}
		after = string(tx.Get("jobs", []byte("j1")))
		return nil
	}, store.Locks())
	if err != nil {
		t.Fatal(err)
	}
	if before != "old" || after != "new" {
		t.Errorf("read %q before the lock and %q after; want old and new", before, after)
	}
}

// TryLockAll asks for several locks in one statement and answers each in
// its place: the one another transaction holds is refused, those around
// it are taken (and read afresh), and one asked twice is taken.
func TestTryLockAllAnswersEachInItsPlace(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	update(t, db, func(tx *store.Tx) error { return tx.Put("jobs", []byte("j3"), []byte("v3")) })
	release := make(chan struct{})
	held := holdBatch(t, db, release, func(tx *store.Tx) error { return nil }, store.Locks("job:j2"))
	names := []string{"job:j1", "job:j2", "job:j3", "job:j1", "job:j4"}
	fresh := [][]store.Key{nil, nil, {{Bucket: "jobs", Key: []byte("j3")}}}
	var got []bool
	var v3 string
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		got, err = tx.TryLockAll(names, fresh)
		v3 = string(tx.Get("jobs", []byte("j3")))
		return err
	}, store.Locks()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[true false true true true]" || v3 != "v3" {
		t.Errorf("TryLockAll(%v) = %v, read %q; want [true false true true true] and v3", names, got, v3)
	}
}

// A follower of the journal on PostgreSQL never passes an entry that
// commits after one with a larger key: entries come in the order their
// transactions committed.
func TestJournalFollowerSeesLateCommits(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	release := make(chan struct{})
	// A: the smaller key, written first, committed last.
	slow := holdBatch(t, db, release, func(tx *store.Tx) error {
		if err := tx.Put(store.CommitOrdered, []byte("k1"), []byte("a")); err != nil {
			return err
		}
		tx.Count("x") // sends the write: the transaction now has its id
		return nil
	}, store.Locks())
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		return tx.Put(store.CommitOrdered, []byte("k2"), []byte("b"))
	}, store.Locks()); err != nil {
		t.Fatal(err)
	}
	var cursor []byte
	var seen []string
	follow := func() {
		err := db.ScanCommitted(store.CommitOrdered, cursor, 100, func(k, _ []byte) error {
			seen = append(seen, string(k))
			cursor = append([]byte(nil), k...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	follow()
	if len(seen) != 0 {
		t.Errorf("handed out %v while an older transaction is still running", seen)
	}
	close(release)
	if err := <-slow; err != nil {
		t.Fatal(err)
	}
	// Transactions of other databases of the cluster hold the horizon
	// back too: follow until both came or a deadline passes.
	deadline := time.Now().Add(30 * time.Second)
	for len(seen) < 2 && time.Now().Before(deadline) {
		follow()
		time.Sleep(20 * time.Millisecond)
	}
	if len(seen) != 2 || seen[0] != "k1" || seen[1] != "k2" {
		t.Errorf("follower saw %v; want k1 k2 (commit order, none passed over)", seen)
	}
}

// A write that reaches data whose lock it did not declare (Tx.Need) has
// its writes undone and runs again with that lock taken at its start,
// beside the rest of its batch: nothing of the first run is kept, nothing
// written twice, and the rerun really holds the lock (another write of
// that name waits for it).
func TestNeedRunsTheWriteAgainWithTheLock(t *testing.T) {
	db, conn := keyedDB(t, store.Options{Committers: 4})
	release := make(chan struct{})
	var runs []bool // what Need found, per run
	inRerun := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.Update(context.Background(), func(tx *store.Tx) error {
			n := len(runs)
			if err := tx.Put("b", []byte(fmt.Sprintf("run%d", n)), []byte("v")); err != nil {
				return err
			}
			tx.Need("conv:1")
			runs = append(runs, n > 0)
			// Written after the Need, whatever it found: undone on the
			// first run.
			if err := tx.Put("b", []byte("counter"), []byte(fmt.Sprint(n))); err != nil {
				return err
			}
			if n > 0 {
				close(inRerun)
				<-release
			}
			return nil
		}, store.Locks("email:1"))
	}()
	<-inRerun
	// The rerun holds conv:1: a write of it waits.
	other := make(chan error, 1)
	go func() {
		other <- db.Update(context.Background(), func(*store.Tx) error { return nil }, store.Locks("conv:1"))
	}()
	waitForLockWaiters(t, conn, 1)
	close(release)
	for _, c := range []chan error{done, other} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	if len(runs) != 2 {
		t.Fatalf("ran %d times, want 2 (the first without conv:1, the rerun with it)", len(runs))
	}
	err := db.View(context.Background(), func(tx *store.Tx) error {
		if v := tx.Get("b", []byte("run0")); v != nil {
			t.Error("the first run's write was kept")
		}
		if v := tx.Get("b", []byte("run1")); v == nil {
			t.Error("the rerun's write is missing")
		}
		if v := string(tx.Get("b", []byte("counter"))); v != "1" {
			t.Errorf("counter = %q, want the rerun's 1", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A name the write declared, took with TryLock, or made itself (Own) is
// not asked for again; one that keeps being missed ends in a run under
// the writer lock alone, where Need asks nothing.
func TestNeedIsSatisfiedByDeclaredTakenOrOwnNames(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	runs := 0
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		runs++
		if got, err := tx.TryLock("job:1"); err != nil || !got {
			return fmt.Errorf("TryLock: %v %v", got, err)
		}
		tx.Own("conv:new")
		tx.Need("email:1", "job:1", "conv:new")
		return nil
	}, store.Locks("email:1"))
	if err != nil || runs != 1 {
		t.Fatalf("runs %d, err %v; want one run", runs, err)
	}
	runs = 0
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		runs++
		tx.Need(fmt.Sprintf("conv:%d", runs)) // a new name every run
		return nil
	}, store.Locks())
	if err != nil {
		t.Fatal(err)
	}
	if runs < 2 || runs > 5 {
		t.Errorf("ran %d times; want a few reruns, then one alone", runs)
	}
}

// A barrier that fails half way (a statement_timeout while it waits for
// a holder) leaves none of the session locks it took behind, on the
// committer's connection or, through a pooler, on a server connection
// another client gets next.
func TestFailedBarrierLeavesNoLock(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var name string
	if err := conn.QueryRow(ctx, `SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `ALTER DATABASE `+pgx.Identifier{name}.Sanitize()+` SET statement_timeout = '500ms'`); err != nil {
		t.Fatal(err)
	}
	open, opts := pooledOpts(t, url, store.Options{Committers: 2})
	db, err := store.OpenPostgres(ctx, open, t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The barrier takes free first (the order is by key), then waits for
	// held.
	held, free := "order:held", ""
	for i := 0; free == ""; i++ {
		if n := fmt.Sprintf("order:free%d", i); store.LockID(n) < store.LockID(held) {
			free = n
		}
	}
	nop := func(*store.Tx) error { return nil }
	release := make(chan struct{})
	holder := holdBatch(t, db, release, nop, store.SharedLocks(held))
	err = db.Update(ctx, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) }, store.Locks(), store.Barriers(free, held))
	if err == nil {
		t.Fatal("the barrier passed a holder that had not ended")
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	waitfor.Until(t, 10*time.Second, "no advisory lock of the database is held", func() bool {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND d.datname = current_database()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 0
	})
	// And the store goes on: the next barrier on those names passes.
	if err := db.Update(ctx, nop, store.Locks(), store.Barriers(free, held)); err != nil {
		t.Fatal(err)
	}
}

// A barrier waits for the transactions that hold its names when it asks,
// and only for them: a transaction that takes one of the names shared
// while the barrier waits (one sender's next accept, on any node) goes
// through at once, instead of queueing behind the barrier (an exclusive
// request) as PostgreSQL queues a shared request behind a waiting
// exclusive one.
func TestBarrierWaitsOnlyForHoldersInFlight(t *testing.T) {
	db, conn := keyedDB(t, store.Options{Committers: 4})
	ctx := context.Background()
	nop := func(*store.Tx) error { return nil }
	release := make(chan struct{})
	held := holdBatch(t, db, release, nop, store.SharedLocks("order:x"), store.Locks("dedupe:1"))
	barrier := make(chan error, 1)
	go func() {
		barrier <- db.Update(ctx, func(tx *store.Tx) error {
			return tx.Put("b", []byte("k"), []byte("v"))
		}, store.Locks("email:1"), store.Barriers("order:x", "order:y"))
	}()
	waitForLockWaiters(t, conn, 1)
	later := make(chan error, 1)
	go func() {
		later <- db.Update(ctx, nop, store.SharedLocks("order:x"), store.Locks("dedupe:2"))
	}()
	fail := func(format string, args ...any) {
		close(release) // the writes end, so the store can close
		t.Fatalf(format, args...)
	}
	select {
	case err := <-later:
		if err != nil {
			fail("%v", err)
		}
	case err := <-barrier:
		fail("the barrier passed a holder that had not ended: %v", err)
	case <-time.After(10 * time.Second): // below commitTimeout
		fail("a later holder of the name waited for the barrier")
	}
	select {
	case err := <-barrier:
		fail("the barrier passed a holder that had not ended: %v", err)
	default:
	}
	close(release)
	for _, c := range []chan error{held, barrier} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	// The barrier leaves no lock behind.
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND d.datname = current_database()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("%d advisory locks held after the barrier", n)
	}
}

// TryLockAllLimit reads afresh only the keys of the locks it takes, and
// of the limited bucket only the values within its bytes, in order: the
// rest are not fetched (Get would read them in a round trip of its own).
func TestTryLockAllLimitReadsOnlyHeldAndWithinBytes(t *testing.T) {
	db, _ := keyedDB(t, store.Options{Committers: 4})
	big := func(c byte) []byte { return bytes.Repeat([]byte{c}, 400) }
	update(t, db, func(tx *store.Tx) error {
		for _, id := range []string{"j1", "j2", "j3", "j4"} {
			if err := tx.Put("jobs", []byte(id), []byte("rec-"+id)); err != nil {
				return err
			}
			if err := tx.Put("raw", []byte(id), big(id[1])); err != nil {
				return err
			}
		}
		return nil
	})
	release := make(chan struct{})
	held := holdBatch(t, db, release, func(tx *store.Tx) error { return nil }, store.Locks("job:j2"))
	ids := []string{"j1", "j2", "j3", "j4"}
	names := make([]string, len(ids))
	fresh := make([][]store.Key, len(ids))
	for i, id := range ids {
		names[i] = "job:" + id
		fresh[i] = []store.Key{{Bucket: "jobs", Key: []byte(id)}, {Bucket: "raw", Key: []byte(id)}}
	}
	var got []bool
	var recs, raws []string
	var trips int64
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		// j2's lock is held elsewhere: j1 and j3 fit in 1000 bytes, j4
		// would not.
		got, err = tx.TryLockAllLimit(names, fresh, store.FreshLimit{Bucket: "raw", Bytes: 1000})
		if err != nil {
			return err
		}
		before := db.RoundTrips()
		for _, id := range ids {
			if tx.Fetched("jobs", []byte(id)) {
				recs = append(recs, string(tx.Get("jobs", []byte(id))))
			}
			if tx.Fetched("raw", []byte(id)) {
				raws = append(raws, id+":"+strconv.Itoa(len(tx.Get("raw", []byte(id)))))
			}
		}
		trips = db.RoundTrips() - before
		return nil
	}, store.Locks()); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[true false true true]" {
		t.Errorf("TryLockAllLimit took %v, want [true false true true]", got)
	}
	if fmt.Sprint(recs) != "[rec-j1 rec-j3 rec-j4]" || fmt.Sprint(raws) != "[j1:400 j3:400]" || trips != 0 {
		t.Errorf("fetched records %v and raw %v (%d round trips to read them); want [rec-j1 rec-j3 rec-j4], [j1:400 j3:400] and 0", recs, raws, trips)
	}
}
