package store_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
	"github.com/jackc/pgx/v5"
)

// A batch's writes are merged into multi-row statements on PostgreSQL;
// whatever the mix of puts and deletes of the same keys, reads and scans
// between them (which send what is queued), and functions that fail and
// are undone, the store must end as the writes say, on both backends.
func TestMergedWritesEndAsWritten(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			model := map[string]string{}
			ref := refStore(t)
			rng := rand.New(rand.NewPCG(1, uint64(len(name))))
			boom := errors.New("boom")
			for round := range 30 {
				var fns []func(*store.Tx) error
				var fails []bool
				for f := range 1 + rng.IntN(4) {
					fail := rng.IntN(4) == 0
					ops := make([][2]int, 1+rng.IntN(40)) // op, key
					for i := range ops {
						ops[i] = [2]int{rng.IntN(11), rng.IntN(12)}
					}
					fails = append(fails, fail)
					fns = append(fns, func(tx *store.Tx) error {
						for i, op := range ops {
							key := fmt.Appendf(nil, "k%02d", op[1])
							switch {
							case op[0] < 5:
								if err := tx.Put("m", key, fmt.Appendf(nil, "r%d f%d i%d", round, f, i)); err != nil {
									return err
								}
							case op[0] < 8:
								if err := tx.Delete("m", key); err != nil {
									return err
								}
							case op[0] == 8:
								tx.Count("m") // sends what is queued
							case op[0] == 9:
								tx.Get("m", key) // a key read absent is then inserted, not upserted
							default:
								_ = tx.Scan("m", key, func(k, v []byte) (bool, error) { return false, nil })
							}
						}
						if fail {
							return boom
						}
						return nil
					})
				}
				errs := db.RunBatch(fns...)
				for i, err := range errs {
					if fails[i] != (err != nil) {
						t.Fatalf("round %d function %d: error %v, want failure %v", round, i, err, fails[i])
					}
				}
				// The model: the functions that succeeded, run one by one
				// (their random choices were fixed above).
				replay(t, ref, fns, fails, model)
				got := map[string]string{}
				_ = db.View(context.Background(), func(tx *store.Tx) error {
					return tx.Scan("m", nil, func(k, v []byte) (bool, error) { got[string(k)] = string(v); return true, nil })
				})
				if fmt.Sprint(got) != fmt.Sprint(model) {
					t.Fatalf("round %d: store\n%v\nwant\n%v", round, got, model)
				}
			}
		})
	}
}

// refStore is the model's store: bbolt alone (no log), where the
// functions that succeeded run one by one, round after round.
func refStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{NoLog: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// replay runs the functions that did not fail, each in an Update of its
// own, on ref, which holds model (the rounds before, replayed there), and
// reads model back. (A store opened for each round, primed with model,
// was a third of the test's time under the race detector.)
func replay(t *testing.T, ref *store.DB, fns []func(*store.Tx) error, fails []bool, model map[string]string) {
	t.Helper()
	for i, fn := range fns {
		if fails[i] {
			continue
		}
		update(t, ref, fn)
	}
	clear(model)
	_ = ref.View(context.Background(), func(tx *store.Tx) error {
		return tx.Scan("m", nil, func(k, v []byte) (bool, error) { model[string(k)] = string(v); return true, nil })
	})
}

// Prefetch answers the later Gets as they would have been answered one
// by one: found keys, absent ones, keys the transaction wrote or deleted
// before, in write transactions and as a View's first read.
func TestPrefetchAnswersAsGetWould(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				for _, k := range []string{"a", "b", "gone"} {
					if err := tx.Put("p", []byte(k), []byte("old "+k)); err != nil {
						return err
					}
				}
				return tx.Put("q", []byte("a"), []byte("other bucket"))
			})
			keys := func(ks ...string) []store.Key {
				var out []store.Key
				for _, k := range ks {
					out = append(out, store.Key{Bucket: "p", Key: []byte(k)})
				}
				return append(out, store.Key{Bucket: "q", Key: []byte("a")})
			}
			update(t, db, func(tx *store.Tx) error {
				if err := tx.Put("p", []byte("b"), []byte("new b")); err != nil {
					return err
				}
				if err := tx.Delete("p", []byte("gone")); err != nil {
					return err
				}
				tx.Prefetch(keys("a", "b", "gone", "none", "a")...)
				got := fmt.Sprintf("%q %q %v %v %q", tx.Get("p", []byte("a")), tx.Get("p", []byte("b")),
					tx.Get("p", []byte("gone")) == nil, tx.Get("p", []byte("none")) == nil, tx.Get("q", []byte("a")))
				if want := `"old a" "new b" true true "other bucket"`; got != want {
					return fmt.Errorf("after Prefetch: %s, want %s", got, want)
				}
				return nil
			})
			err := db.View(context.Background(), func(tx *store.Tx) error {
				tx.Prefetch(keys("b", "gone", "none")...)
				got := fmt.Sprintf("%q %v %v %d", tx.Get("p", []byte("b")), tx.Get("p", []byte("gone")) == nil,
					tx.Get("p", []byte("none")) == nil, tx.Count("p"))
				if want := `"new b" true true 2`; got != want {
					return fmt.Errorf("view after Prefetch: %s, want %s", got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// DB.Get reads one committed key, absent as nil, an empty value as
// empty, on both backends.
func TestDBGet(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				if err := tx.Put("g", []byte("k"), []byte("v")); err != nil {
					return err
				}
				return tx.Put("g", []byte("empty"), nil)
			})
			v, err := db.Get(context.Background(), "g", []byte("k"))
			if err != nil || string(v) != "v" {
				t.Errorf("Get k = %q, %v", v, err)
			}
			v, err = db.Get(context.Background(), "g", []byte("empty"))
			if err != nil || v == nil || len(v) != 0 {
				t.Errorf("Get empty = %#v, %v; want an empty, non-nil value", v, err)
			}
			v, err = db.Get(context.Background(), "g", []byte("none"))
			if err != nil || v != nil {
				t.Errorf("Get none = %q, %v; want nil", v, err)
			}
		})
	}
}

// DB.GetMany reads several keys at once as Get would one by one: found,
// absent, empty, a key asked twice, keys of two buckets.
func TestDBGetMany(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				if err := tx.Put("g", []byte("k"), []byte("v")); err != nil {
					return err
				}
				if err := tx.Put("h", []byte("k"), []byte("other")); err != nil {
					return err
				}
				return tx.Put("g", []byte("empty"), nil)
			})
			vs, err := db.GetMany(context.Background(), store.Key{Bucket: "g", Key: []byte("k")},
				store.Key{Bucket: "g", Key: []byte("none")}, store.Key{Bucket: "g", Key: []byte("empty")},
				store.Key{Bucket: "h", Key: []byte("k")}, store.Key{Bucket: "g", Key: []byte("k")})
			if err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprintf("%q %v %v %q %q", vs[0], vs[1] == nil, vs[2] != nil && len(vs[2]) == 0, vs[3], vs[4])
			if want := `"v" true true "other" "v"`; got != want {
				t.Errorf("GetMany = %s, want %s", got, want)
			}
		})
	}
}

// A key read absent is written with a plain INSERT (no upsert): should a
// row of it appear all the same (a writer that did not take the lock
// covering the key), the commit fails with a unique violation, and the
// batch runs again, seeing the row, instead of failing.
func TestKeyReadAbsentThatAppearsRunsTheBatchAgain(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(context.Background()) })
	runs := 0
	var before []string
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		runs++
		v := tx.Get("c", []byte("k"))
		before = append(before, string(v))
		if runs == 1 {
			if _, err := other.Exec(context.Background(), `INSERT INTO kv (bucket, key, value) VALUES ('c', 'k', 'theirs')`); err != nil {
				return err
			}
		}
		return tx.Put("c", []byte("k"), append(v, "+mine"...))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.Get(context.Background(), "c", []byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || string(got) != "theirs+mine" || fmt.Sprint(before) != "[ theirs]" {
		t.Errorf("%d runs that read %q, value %q; want 2 runs, the second reading theirs, and theirs+mine", runs, before, got)
	}
}

// A key read present is written with a plain UPDATE (no upsert): should
// its row go all the same (a writer that did not take the lock covering
// the key), the update meets no row and the commit fails rather than
// lose the write; the batch runs again, reading the key absent.
func TestKeyReadPresentThatGoesRunsTheBatchAgain(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close(context.Background()) })
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.Put("c", []byte("j"), []byte("j")); err != nil {
			return err
		}
		return tx.Put("c", []byte("k"), []byte("old"))
	})
	if err != nil {
		t.Fatal(err)
	}
	runs := 0
	var before []string
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		runs++
		v := tx.Get("c", []byte("k"))
		before = append(before, string(v))
		if runs == 1 {
			if _, err := other.Exec(context.Background(), `DELETE FROM kv WHERE bucket = 'c' AND key = 'k'`); err != nil {
				return err
			}
		}
		// With a write of another kind, in the same statement.
		if err := tx.Delete("c", []byte("j")); err != nil {
			return err
		}
		return tx.Put("c", []byte("k"), append(v, "+mine"...))
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := db.GetMany(context.Background(), store.Key{Bucket: "c", Key: []byte("k")}, store.Key{Bucket: "c", Key: []byte("j")})
	if err != nil {
		t.Fatal(err)
	}
	if runs != 2 || string(got[0]) != "+mine" || got[1] != nil || fmt.Sprint(before) != "[old ]" {
		t.Errorf("%d runs that read %q, value %q (j %q); want 2 runs, the second reading nothing, and +mine (j deleted)", runs, before, got[0], got[1])
	}
}

// A value large enough for PostgreSQL to compress (an email's raw bytes)
// is compressed with lz4, not pglz, where the server has lz4.
func TestLargeValuesAreCompressedWithLZ4(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(context.Background(), `SET default_toast_compression = lz4`); err != nil {
		t.Skipf("the server has no lz4: %v", err)
	}
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	big := []byte(strings.Repeat("Received: from mx.example.com by deskmail; a line of an email\r\n", 80))
	for _, locks := range [][]store.UpdateOption{nil, {store.Locks("raw:1")}} {
		err := db.Update(context.Background(), func(tx *store.Tx) error {
			return tx.Put("raw", fmt.Appendf(nil, "%d", len(locks)), big)
		}, locks...)
		if err != nil {
			t.Fatal(err)
		}
	}
	rows, err := conn.Query(context.Background(), `SELECT key, coalesce(pg_column_compression(value), 'none') FROM kv WHERE bucket = 'raw' ORDER BY key`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var k []byte
		var m string
		err := r.Scan(&k, &m)
		return string(k) + "=" + m, err
	})
	if err != nil || fmt.Sprint(got) != "[0=lz4 1=lz4]" {
		t.Errorf("compression %v (%v), want lz4 for the batch that declared no locks and the one that did", got, err)
	}
}

// What a write transaction says it will read (Reads, ReadsLast,
// ReadsRange, Draws) is read in one statement after its locks, not one
// statement per kind: an accept names a key, a last key and two
// sequences, a pipeline commit keys, ranges and a draw. The answers are
// those of the reads themselves, and the transaction's function costs no
// round trip for them.
func TestNamedReadsAreOneStatement(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	ctx := context.Background()
	update(t, db, func(tx *store.Tx) error {
		for _, kv := range [][3]string{{"p", "a", "va"}, {"p", "e", ""}, {"j", "x", "1"}, {"j", "z", "2"},
			{"r", "k1", "v1"}, {"r", "k2", "v2"}, {"r", "k3", "v3"}, {"r", "k5", "v5"}, {"r", "k6", "v6"}} {
			if err := tx.Put(kv[0], []byte(kv[1]), []byte(kv[2])); err != nil {
				return err
			}
		}
		_, err := tx.Sequence("s") // the sequence exists before the counted batch
		return err
	})
	scan := func(tx *store.Tx, from, to string) string {
		var out []string
		var end []byte
		if to != "" {
			end = []byte(to)
		}
		if err := tx.ScanRange("r", []byte(from), end, func(k, v []byte) (bool, error) {
			out = append(out, string(k)+"="+string(v))
			return true, nil
		}); err != nil {
			t.Fatal(err)
		}
		return strings.Join(out, " ")
	}
	trips, stmts := db.RoundTrips(), db.Statements()
	var got string
	var inFn int64
	err := db.Update(ctx, func(tx *store.Tx) error {
		before := db.RoundTrips()
		s1, err := tx.Sequence("s")
		if err != nil {
			return err
		}
		s2, err := tx.Sequence("s")
		if err != nil {
			return err
		}
		got = fmt.Sprintf("%q %v %q %v %q | %s | %s | %v", tx.Get("p", []byte("a")), tx.Get("p", []byte("e")) != nil,
			tx.Get("p", []byte("e")), tx.Get("p", []byte("none")) == nil, tx.LastKey("j"),
			scan(tx, "k1", "k3"), scan(tx, "k5", ""), s2 > s1 && s1 > 1)
		inFn = db.RoundTrips() - before
		return nil
	}, store.Reads("p", []byte("a"), []byte("e"), []byte("none")), store.ReadsLast("j"),
		store.ReadsRange("r", []byte("k1"), []byte("k3")), store.ReadsRange("r", []byte("k5"), nil),
		store.Draws("s", 2), store.Locks())
	if err != nil {
		t.Fatal(err)
	}
	if want := `"va" true "" true "z" | k1=v1 k2=v2 | k5=v5 k6=v6 | true`; got != want {
		t.Errorf("reads: %s, want %s", got, want)
	}
	if inFn != 0 {
		t.Errorf("the function's reads took %d round trips, want 0", inFn)
	}
	// BEGIN, the locks, the reads, COMMIT: two round trips.
	if n, r := db.Statements()-stmts, db.RoundTrips()-trips; n != 4 || r != 2 {
		t.Errorf("the transaction sent %d statements in %d round trips, want 4 in 2", n, r)
	}
}
