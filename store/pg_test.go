package store_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// twoNodes opens two stores on one fresh database, as two deskmail nodes.
// Under TestBehindPgBouncer both go through a PgBouncer in transaction
// mode (url is still the direct one).
func twoNodes(t *testing.T) (a, b *store.DB, url string) {
	url = pgtest.NewDatabase(t)
	open, opts := pooled(t, url)
	var err error
	for _, p := range []**store.DB{&a, &b} {
		if *p, err = store.OpenPostgres(context.Background(), open, t.TempDir(), opts); err != nil {
			t.Fatal(err)
		}
		db := *p
		t.Cleanup(func() { db.Close() })
	}
	return a, b, url
}

// Read-modify-write on one key from two nodes at once: write transactions
// that take turns on the cluster's writer lock lose no increment.
func TestTwoNodesLoseNoUpdate(t *testing.T) {
	a, b, _ := twoNodes(t)
	const each = 60
	var wg sync.WaitGroup
	for _, db := range []*store.DB{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := db.Update(context.Background(), func(tx *store.Tx) error {
					n, _ := strconv.Atoi(string(tx.Get("c", []byte("n"))))
					return tx.Put("c", []byte("n"), []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	var got string
	_ = b.View(context.Background(), func(tx *store.Tx) error { got = string(tx.Get("c", []byte("n"))); return nil })
	if got != strconv.Itoa(4*each) {
		t.Errorf("counter = %s after %d increments on two nodes", got, 4*each)
	}
}

func TestNotesReachTheOtherNodeOnlyAfterCommit(t *testing.T) {
	a, b, _ := twoNodes(t)
	got := make(chan string, 10)
	cancel := b.Subscribe("wake", func(p string) { got <- p })
	defer cancel()
	own := make(chan string, 10)
	defer a.Subscribe("wake", func(p string) { own <- p })()
	deadline := time.Now().Add(10 * time.Second)
	// The listener may still be connecting: publish until it hears.
	for {
		_ = a.Update(context.Background(), func(tx *store.Tx) error { tx.Publish("wake", "rolled back"); return errors.New("no") })
		_ = a.Update(context.Background(), func(tx *store.Tx) error { tx.Publish("wake", "committed"); return nil })
		select {
		case p := <-got:
			if p != "committed" {
				t.Fatalf("node B heard %q", p)
			}
			// Node A must not hear its own note: notes reach a listener in
			// commit order, so once A hears a later note from B, its own
			// would have come first.
			for {
				_ = b.Update(context.Background(), func(tx *store.Tx) error { tx.Publish("wake", "from B"); return nil })
				select {
				case p := <-own:
					if p != "from B" {
						t.Fatalf("node A heard %q, its own note", p)
					}
					return
				case <-time.After(200 * time.Millisecond):
				}
				if time.Now().After(deadline) {
					t.Fatal("node A never heard node B's note")
				}
			}
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("node B never heard node A's note")
		}
	}
}

// The notes of one commit, sent in one statement after it, arrive in the
// order they were published, after the writes they announce are visible.
func TestNotesOfOneCommitArriveInOrderAfterIt(t *testing.T) {
	a, b, _ := twoNodes(t)
	got := make(chan string, 100)
	defer b.Subscribe("order", func(p string) { got <- p })()
	deadline := time.Now().Add(10 * time.Second)
	for round := 0; ; round++ {
		// The listener may still be connecting: each round's notes are
		// its own, and the first round heard whole is checked.
		tag := strconv.Itoa(round)
		err := a.Update(context.Background(), func(tx *store.Tx) error {
			for i := range 5 {
				tx.Publish("order", tag+"/"+strconv.Itoa(i))
			}
			return tx.Put("order", []byte(tag), []byte("stored"))
		})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case p := <-got:
			if p != tag+"/0" {
				continue // a note of an earlier round, heard in part
			}
			for i := 1; i < 5; i++ {
				select {
				case p := <-got:
					if want := tag + "/" + strconv.Itoa(i); p != want {
						t.Fatalf("heard %q, want %q", p, want)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("note %d of round %s never came", i, tag)
				}
			}
			var v string
			_ = b.View(context.Background(), func(tx *store.Tx) error { v = string(tx.Get("order", []byte(tag))); return nil })
			if v != "stored" {
				t.Fatalf("node B heard the notes before the write was visible (got %q)", v)
			}
			return
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("node B never heard node A's notes")
		}
	}
}

func TestTryExclusiveRunsOnOneNode(t *testing.T) {
	a, b, _ := twoNodes(t)
	inside := make(chan struct{})
	release := make(chan struct{})
	done := make(chan bool)
	go func() {
		ran, err := a.TryExclusive(context.Background(), "prune", func() error {
			close(inside)
			<-release
			return nil
		})
		if err != nil {
			t.Error(err)
		}
		done <- ran
	}()
	<-inside
	ran, err := b.TryExclusive(context.Background(), "prune", func() error { return nil })
	if err != nil || ran {
		t.Errorf("node B ran the job while A held it (ran %v, err %v)", ran, err)
	}
	close(release)
	if !<-done {
		t.Error("node A did not run")
	}
	if ran, _ := b.TryExclusive(context.Background(), "prune", func() error { return nil }); !ran {
		t.Error("node B could not run once A was done")
	}
}

func TestNewerSchemaIsRefused(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Exec(context.Background(), `INSERT INTO schema_version (version, name) VALUES (9999, '9999_future.sql')`)
	conn.Close(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), "9999") {
		t.Errorf("open on a newer schema: %v", err)
	}
}

func TestMigrateIsIdempotent(t *testing.T) {
	url := pgtest.NewDatabase(t)
	applied, v, err := store.MigrateURL(context.Background(), url)
	if err != nil || applied != 0 || v != store.SchemaVersion() {
		t.Errorf("migrate a migrated database: applied %d, version %d, %v", applied, v, err)
	}
}

func TestUnreachableDatabaseIsAClearError(t *testing.T) {
	_, err := store.OpenPostgres(context.Background(), "postgres://postgres:secret@127.0.0.1:1/none?sslmode=disable&connect_timeout=2", t.TempDir(), store.Options{})
	if err == nil || !strings.Contains(err.Error(), "connect to") || strings.Contains(err.Error(), "secret") {
		t.Errorf("open on a closed port: %v", err)
	}
}

// A database lost mid-run fails Update (never a silent success) and the
// store works again once it is back.
func TestLostConnectionFailsTheWrite(t *testing.T) {
	a, _, url := twoNodes(t)
	update(t, a, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
	cutConnections(t, url)
	// The pool notices a dead connection on use: the first write after the
	// cut either fails with ErrUnavailable or succeeds on a fresh one;
	// never a success that is not stored.
	for i := range 3 {
		err := a.Update(context.Background(), func(tx *store.Tx) error {
			return tx.Put("b", []byte(strconv.Itoa(i)), []byte("v"))
		})
		var stored bool
		look := func(tx *store.Tx) error { stored = tx.Get("b", []byte(strconv.Itoa(i))) != nil; return nil }
		for range 5 { // a reader's connection may be one of the dead ones
			if a.View(context.Background(), look) == nil {
				break
			}
		}
		if err == nil && !stored {
			t.Errorf("write %d answered success but is not stored", i)
		}
		if err != nil && !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("write %d: %v, want ErrUnavailable", i, err)
		}
	}
	update(t, a, func(tx *store.Tx) error { return tx.Put("b", []byte("after"), []byte("v")) })
}

// The operator views read what the nodes wrote, with typed columns.
func TestOperatorViews(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	update(t, db, func(tx *store.Tx) error {
		if err := tx.Put("journal", []byte("k1"), []byte(`{"id":"e1","time":"2026-11-30T10:00:00.123Z","direction":"in","status":"received","envelope_from":"a@x.test","envelope_to":["b@y.test"],"subject":"Hi","size":42,"stored_id":"s1","person":"ann","messages":["m1"],"thread_by":"new"}`)); err != nil {
			return err
		}
		return tx.Put("queue_jobs", []byte("j1"), []byte(`{"id":"j1","kind":"email","state":"queued","person":"ann","to":"ann@x.test","conversation":"c1","messages":["m1","m2"],"attempts":2,"due":"2026-11-30T11:00:00Z","reason":"451 try later","created":"2026-11-30T10:00:00Z","updated":"2026-11-30T10:05:00Z"}`))
	})
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var ts time.Time
	var to []string
	var size int64
	err = conn.QueryRow(context.Background(), `SELECT time, envelope_to, size FROM deskmail_log WHERE direction = 'in' AND status = 'received'`).Scan(&ts, &to, &size)
	if err != nil || ts.UnixMilli() != time.Date(2026, 11, 30, 10, 0, 0, 123e6, time.UTC).UnixMilli() || len(to) != 1 || to[0] != "b@y.test" || size != 42 {
		t.Errorf("deskmail_log: %v %v %v %v", ts, to, size, err)
	}
	// From SQL to `deskmail why --message ID`: the message ids an email became.
	var messages []string
	var stored, person, threadBy string
	err = conn.QueryRow(context.Background(), `SELECT messages, stored_id, person, thread_by FROM deskmail_log WHERE id = 'e1'`).Scan(&messages, &stored, &person, &threadBy)
	if err != nil || len(messages) != 1 || messages[0] != "m1" || stored != "s1" || person != "ann" || threadBy != "new" {
		t.Errorf("deskmail_log ids: %v %q %q %q %v", messages, stored, person, threadBy, err)
	}
	var attempts, msgs int
	var lastErr string
	err = conn.QueryRow(context.Background(), `SELECT attempts, messages, last_error FROM deskmail_queue WHERE state = 'queued' AND next_attempt > '2026-11-30T10:30:00Z'`).Scan(&attempts, &msgs, &lastErr)
	if err != nil || attempts != 2 || msgs != 2 || lastErr != "451 try later" {
		t.Errorf("deskmail_queue: %d %d %q %v", attempts, msgs, lastErr, err)
	}
}

// A read's BEGIN goes with its first statement: after every idle
// connection of the readers' pool was cut (a database restart), the next
// View still reads, on a fresh connection, without an error to its caller.
func TestViewAfterIdleConnectionsDied(t *testing.T) {
	a, _, url := twoNodes(t)
	update(t, a, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
	// Open several readers' connections, all idle afterwards.
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = a.View(context.Background(), func(tx *store.Tx) error { tx.Get("b", []byte("k")); return nil })
		}()
	}
	wg.Wait()
	cutConnections(t, url)
	for i := range 3 {
		var got []byte
		var n int
		err := a.View(context.Background(), func(tx *store.Tx) error {
			got = tx.Get("b", []byte("k"))
			n = tx.Count("b") // the second read, in the same transaction
			return nil
		})
		if err != nil || string(got) != "v" || n != 1 {
			t.Fatalf("view %d after the cut: %q, count %d, %v", i, got, n, err)
		}
	}
	// A View that reads nothing begins nothing and leaves nothing open.
	if err := a.View(context.Background(), func(tx *store.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

// cutConnections ends every connection of the database at url, as a
// restart does.
func cutConnections(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.Server())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	name := url[strings.LastIndex(url, "/")+1:]
	if i := strings.Index(name, "?"); i >= 0 {
		name = name[:i]
	}
	if _, err := conn.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, name); err != nil {
		t.Fatal(err)
	}
}

// A journal follower (ScanCommitted) reads on past the pooled connections
// that a restart left dead, as View does: the first read after the cut
// succeeds.
func TestFollowerOutlivesLostConnections(t *testing.T) {
	a, _, url := twoNodes(t)
	update(t, a, func(tx *store.Tx) error { return tx.Put(store.CommitOrdered, []byte("k1"), []byte("v")) })
	// Every reader connection is opened and idle before the cut.
	for range 8 {
		if err := a.View(context.Background(), func(*store.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	cutConnections(t, url)
	var seen []string
	follow := func() error {
		return a.ScanCommitted(store.CommitOrdered, nil, 10, func(k, _ []byte) error {
			seen = append(seen, string(k))
			return nil
		})
	}
	if err := follow(); err != nil {
		t.Fatalf("the first follow after the connections were cut: %v", err)
	}
	// Transactions of other databases of the cluster may hold the
	// horizon back a moment.
	waitfor.Until(t, 30*time.Second, "the follower sees k1", func() bool {
		if len(seen) == 0 && follow() != nil {
			t.Fatal("a later follow failed")
		}
		return len(seen) > 0
	})
	if len(seen) != 1 || seen[0] != "k1" {
		t.Errorf("follower saw %v, want k1", seen)
	}
}

// A database of the previous schema (4) is migrated on open: kv keeps a
// quarter of each new page for updates (fillfactor 75, so that a
// pending email's claim and its journal entry's updates are HOT), its
// rows are kept, and the version says 5.
func TestMigrationFiveLeavesRoomForUpdates(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`ALTER TABLE kv RESET (fillfactor)`,
		`DELETE FROM schema_version WHERE version >= 5`,
		`INSERT INTO kv (bucket, key, value) VALUES ('b', 'k', 'v')`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	opts := func() string {
		var o []string
		if err := conn.QueryRow(ctx, `SELECT coalesce(reloptions, '{}') FROM pg_class WHERE oid = 'kv'::regclass`).Scan(&o); err != nil {
			t.Fatal(err)
		}
		return strings.Join(o, ",")
	}
	if o := opts(); o != "" {
		t.Fatalf("schema 4's kv has options %q", o)
	}
	db, err := store.OpenPostgres(ctx, url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if o := opts(); o != "fillfactor=75" {
		t.Errorf("kv options after the migration: %q", o)
	}
	var v int
	if err := conn.QueryRow(ctx, `SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != 5 || store.SchemaVersion() != 5 {
		t.Errorf("schema version %d (%v), binary's %d; want 5", v, err, store.SchemaVersion())
	}
	if err := db.View(ctx, func(tx *store.Tx) error {
		if got := string(tx.Get("b", []byte("k"))); got != "v" {
			t.Errorf("row after the migration: %q", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// Keyed commits (store.Locks: the writer lock shared, as the pipeline's)
// that each publish a note, from two nodes on one database (the nodes'
// commits cannot share a transaction): with NOTIFY inside the transaction
// they took turns on PostgreSQL's notification queue lock, WAL flush
// included, where without notes they commit side by side.
func BenchmarkNotifyingCommitsTwoNodes(b *testing.B) {
	url := pgtest.NewDatabase(b)
	var dbs []*store.DB
	for range 2 {
		db, err := store.OpenPostgres(context.Background(), url, b.TempDir(), store.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		dbs = append(dbs, db)
	}
	var seq atomic.Int64
	b.SetParallelism(5) // 10 writers on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := seq.Add(1)
			k := strconv.FormatInt(n, 10)
			err := dbs[n%2].Update(context.Background(), func(tx *store.Tx) error {
				tx.Publish("bench", k)
				return tx.Put("b", []byte(k), []byte("v"))
			}, store.Locks("b/"+k))
			if err != nil {
				b.Error(err)
			}
		}
	})
}

// A node whose pool is small (pool_max_conns of 4 or less, fewer than the
// readers the start pre-warms) starts, within a bound, and serves: the
// pre-warm must not hold every connection of the pool while it asks the
// pool for one more.
func TestSmallPoolStarts(t *testing.T) {
	for _, max := range []int{1, 2, 4} {
		t.Run("pool_max_conns="+strconv.Itoa(max), func(t *testing.T) {
			url := pgtest.NewDatabase(t)
			if strings.Contains(url, "?") {
				url += "&"
			} else {
				url += "?"
			}
			url += "pool_max_conns=" + strconv.Itoa(max)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			db, err := store.OpenPostgres(ctx, url, t.TempDir(), store.Options{})
			if err != nil {
				t.Fatalf("open with pool_max_conns=%d: %v", max, err)
			}
			defer db.Close()
			update(t, db, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
			var got []byte
			if err := db.View(ctx, func(tx *store.Tx) error { got = tx.Get("b", []byte("k")); return nil }); err != nil || string(got) != "v" {
				t.Errorf("read back: %q, %v", got, err)
			}
		})
	}
}
