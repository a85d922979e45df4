package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// Every behaviour of the seam, on both backends: domain packages must not
// be able to tell them apart.

type opener func(t *testing.T) *store.DB

func backends() map[string]opener {
	return map[string]opener{
		"bbolt": func(t *testing.T) *store.DB {
			db, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
		"postgres": func(t *testing.T) *store.DB { return pgtest.Open(t, t.TempDir(), store.Options{}) },
		// PostgreSQL through PgBouncer in transaction mode.
		"pgbouncer": func(t *testing.T) *store.DB { return pgtest.OpenPooled(t, t.TempDir(), store.Options{}) },
	}
}

func update(t *testing.T, db *store.DB, fn func(*store.Tx) error) {
	t.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func TestSeam(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				for i := range 100 {
					if err := tx.Put("b", fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i)); err != nil {
						return err
					}
				}
				// Read-your-writes inside one transaction.
				if v := tx.Get("b", []byte("k042")); string(v) != "v42" {
					return fmt.Errorf("own write not visible: %q", v)
				}
				if err := tx.Put("e", []byte("empty"), nil); err != nil {
					return err
				}
				return tx.Delete("b", []byte("k099"))
			})
			err := db.View(context.Background(), func(tx *store.Tx) error {
				if tx.Writable() {
					t.Error("View is writable")
				}
				if v := tx.Get("b", []byte("k001")); string(v) != "v1" {
					t.Errorf("Get = %q", v)
				}
				if v := tx.Get("b", []byte("k099")); v != nil {
					t.Errorf("deleted key = %q", v)
				}
				if v := tx.Get("e", []byte("empty")); v == nil || len(v) != 0 {
					t.Errorf("empty value = %#v, want empty non-nil", v)
				}
				if v := tx.Get("nobucket", []byte("x")); v != nil {
					t.Errorf("missing bucket Get = %q", v)
				}
				if n := tx.Count("b"); n != 99 {
					t.Errorf("Count = %d, want 99", n)
				}
				if k := tx.LastKey("b"); string(k) != "k098" {
					t.Errorf("LastKey = %q", k)
				}
				if k := tx.LastKey("nobucket"); k != nil {
					t.Errorf("LastKey of missing bucket = %q", k)
				}
				var fwd []string
				_ = tx.Scan("b", []byte("k095"), func(k, _ []byte) (bool, error) {
					fwd = append(fwd, string(k))
					return true, nil
				})
				if fmt.Sprint(fwd) != "[k095 k096 k097 k098]" {
					t.Errorf("Scan from k095 = %v", fwd)
				}
				var all int
				_ = tx.Scan("b", nil, func(k, _ []byte) (bool, error) { all++; return true, nil })
				if all != 99 {
					t.Errorf("Scan all = %d keys", all)
				}
				var rev []string
				_ = tx.ScanReverse("b", []byte("k003"), func(k, _ []byte) (bool, error) {
					rev = append(rev, string(k))
					return true, nil
				})
				if fmt.Sprint(rev) != "[k002 k001 k000]" {
					t.Errorf("ScanReverse before k003 = %v", rev)
				}
				var last []string
				_ = tx.ScanReverse("b", nil, func(k, _ []byte) (bool, error) {
					last = append(last, string(k))
					return len(last) < 2, nil
				})
				if fmt.Sprint(last) != "[k098 k097]" {
					t.Errorf("ScanReverse from the end = %v", last)
				}
				stop := errors.New("stop")
				if err := tx.Scan("b", nil, func(k, _ []byte) (bool, error) { return true, stop }); !errors.Is(err, stop) {
					t.Errorf("Scan error = %v", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestSequenceIsUniqueAndGrows(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			var mu sync.Mutex
			seen := map[uint64]bool{}
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 {
						var n uint64
						err := db.Update(context.Background(), func(tx *store.Tx) (err error) {
							n, err = tx.Sequence("journal")
							return err
						})
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						if seen[n] {
							t.Errorf("sequence %d handed out twice", n)
						}
						seen[n] = true
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			if len(seen) != 160 || !seen[1] {
				t.Errorf("%d distinct values (1 seen: %v)", len(seen), seen[1])
			}
		})
	}
}

func TestFailingFunctionSparesItsBatch(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			boom := errors.New("boom")
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = db.Update(context.Background(), func(tx *store.Tx) error {
						if err := tx.Put("b", fmt.Append(nil, i), []byte("v")); err != nil {
							return err
						}
						if i%5 == 3 {
							return boom
						}
						return nil
					})
				}()
			}
			wg.Wait()
			for i, err := range errs {
				var got []byte
				_ = db.View(context.Background(), func(tx *store.Tx) error { got = tx.Get("b", fmt.Append(nil, i)); return nil })
				if i%5 == 3 {
					if !errors.Is(err, boom) || got != nil {
						t.Errorf("write %d: err %v, stored %q; want boom and nothing", i, err, got)
					}
				} else if err != nil || string(got) != "v" {
					t.Errorf("write %d: err %v, stored %q", i, err, got)
				}
			}
		})
	}
}

// A failing function in the middle of a batch leaves no trace, even when
// some of its writes were already sent to the database (a range read or a
// long write queue flushes them): the functions after it neither see its
// writes nor lose their own, and its notes are not published.
func TestFailingFunctionIsUndoneInsideItsBatch(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error { return tx.Put("b", []byte("x"), []byte("old")) })
			boom := errors.New("boom")
			var sawX, sawLast string
			for _, flushes := range []bool{false, true} {
				errs := db.RunBatch(
					func(tx *store.Tx) error { return tx.Put("b", []byte("a"), []byte("1")) },
					func(tx *store.Tx) error {
						if err := tx.Put("b", []byte("x"), []byte("new")); err != nil {
							return err
						}
						if err := tx.Put("b", []byte("zzz"), []byte("last")); err != nil {
							return err
						}
						if flushes {
							for i := range 600 { // longer than one write queue
								if err := tx.Put("many", fmt.Appendf(nil, "%04d", i), []byte("v")); err != nil {
									return err
								}
							}
							if n := tx.Count("many"); n != 600 {
								return fmt.Errorf("count %d", n)
							}
						}
						if string(tx.LastKey("b")) != "zzz" {
							return errors.New("own last key not seen")
						}
						tx.Publish("t", "from the failed function")
						return boom
					},
					func(tx *store.Tx) error {
						sawX, sawLast = string(tx.Get("b", []byte("x"))), string(tx.LastKey("b"))
						return tx.Put("b", []byte("c"), []byte("3"))
					},
				)
				if errs[0] != nil || !errors.Is(errs[1], boom) || errs[2] != nil {
					t.Fatalf("flushes=%v: errors %v", flushes, errs)
				}
				if sawX != "old" || sawLast != "x" {
					t.Errorf("flushes=%v: the next function saw x=%q, last key %q; want old, x", flushes, sawX, sawLast)
				}
				_ = db.View(context.Background(), func(tx *store.Tx) error {
					if string(tx.Get("b", []byte("a"))) != "1" || string(tx.Get("b", []byte("c"))) != "3" {
						t.Errorf("flushes=%v: the other functions' writes are missing", flushes)
					}
					if v := tx.Get("b", []byte("x")); string(v) != "old" {
						t.Errorf("flushes=%v: x = %q after the failed function; want old", flushes, v)
					}
					if tx.Get("b", []byte("zzz")) != nil || tx.Count("many") != 0 {
						t.Errorf("flushes=%v: the failed function's writes were kept", flushes)
					}
					return nil
				})
			}
		})
	}
}

// Keys named with Reads are fetched with the batch's first round trip on
// PostgreSQL; what a function reads must still be the truth of the batch:
// absent keys, keys written by an earlier function, keys an undone
// function had written.
func TestReadsSeeTheBatchAsItIs(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error { return tx.Put("b", []byte("k1"), []byte("stored")) })
			var got [4]string
			reads := []store.UpdateOption{store.Reads("b", []byte("k1"), []byte("k2"), []byte("nope"))}
			errs := db.RunBatchWith([]func(*store.Tx) error{
				func(tx *store.Tx) error {
					got[0] = string(tx.Get("b", []byte("k1"))) + "," + string(tx.Get("b", []byte("nope")))
					return tx.Put("b", []byte("k2"), []byte("first"))
				},
				func(tx *store.Tx) error {
					got[1] = string(tx.Get("b", []byte("k2")))
					if err := tx.Put("b", []byte("k1"), []byte("undone")); err != nil {
						return err
					}
					return errors.New("boom")
				},
				func(tx *store.Tx) error {
					got[2] = string(tx.Get("b", []byte("k1"))) + "," + string(tx.Get("b", []byte("k2")))
					got[3] = fmt.Sprint(tx.Get("b", []byte("nope")) == nil)
					return nil
				},
			}, [][]store.UpdateOption{reads, reads, reads})
			if errs[0] != nil || errs[1] == nil || errs[2] != nil {
				t.Fatalf("errors %v", errs)
			}
			want := [4]string{"stored,", "first", "stored,first", "true"}
			if got != want {
				t.Errorf("reads %q; want %q", got, want)
			}
		})
	}
}

// Two sequences first used in one transaction both work: creating a
// bucket's sequence must not leave the transaction blind to it.
func TestTwoNewSequencesInOneTransaction(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				for _, b := range []string{"first", "second", "third"} {
					if n, err := tx.Sequence(b); err != nil || n != 1 {
						return fmt.Errorf("sequence %s: %d, %v", b, n, err)
					}
				}
				return nil
			})
		})
	}
}

// A sequence that no function named with Draws has no gaps: values people
// see (conversation tags) must not skip by the size of a batch.
func TestSequenceWithoutDrawsHasNoGaps(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			var got []uint64
			draw := func(tx *store.Tx) error {
				n, err := tx.Sequence("tags")
				got = append(got, n)
				return err
			}
			nop := func(*store.Tx) error { return nil }
			for range 3 {
				db.RunBatch(nop, draw, nop, nop, nop)
			}
			if fmt.Sprint(got) != "[1 2 3]" {
				t.Errorf("values %v; want [1 2 3]", got)
			}
		})
	}
}

// Sequence values and last keys named with Draws and ReadsLast come with
// the first round trip on PostgreSQL; each function still sees the last
// key as the functions before it left it, and values stay unique and
// growing, also for a function that draws more than it said.
func TestDrawsAndLastKeysFollowTheBatch(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				// Both sequences made now (on PostgreSQL a CREATE SEQUENCE
				// each, not counted below).
				for _, b := range []string{"s", "t"} {
					if _, err := tx.Sequence(b); err != nil {
						return err
					}
				}
				return tx.Put("j", []byte{5}, nil)
			})
			var seqs, others []uint64
			var lasts []byte
			fn := func(draw int) func(tx *store.Tx) error {
				return func(tx *store.Tx) error {
					for range draw {
						n, err := tx.Sequence("s")
						if err != nil {
							return err
						}
						seqs = append(seqs, n)
					}
					n, err := tx.Sequence("t") // a second sequence, drawn in the same statement
					if err != nil {
						return err
					}
					others = append(others, n)
					last := tx.LastKey("j")
					lasts = append(lasts, last[0])
					return tx.Put("j", []byte{last[0] + 1}, nil)
				}
			}
			opts := []store.UpdateOption{store.Draws("s", 1), store.Draws("t", 1), store.ReadsLast("j")}
			trips := db.RoundTrips()
			errs := db.RunBatchWith([]func(*store.Tx) error{fn(1), fn(3), fn(1)}, [][]store.UpdateOption{opts, opts, opts})
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			// The first round trip, the two values of s drawn beyond what
			// was said, the commit: t's three come with the first.
			if n := db.RoundTrips() - trips; n > 4 {
				t.Errorf("%d round trips; want at most 4", n)
			}
			if string(lasts) != string([]byte{5, 6, 7}) {
				t.Errorf("last keys seen %v; want 5 6 7", lasts)
			}
			for i := 1; i < len(seqs); i++ {
				if seqs[i] <= seqs[i-1] {
					t.Errorf("sequence values %v do not grow", seqs)
				}
			}
			for i := 1; i < len(others); i++ {
				if others[i] <= others[i-1] {
					t.Errorf("second sequence's values %v do not grow", others)
				}
			}
			if len(seqs) != 5 || len(others) != 3 {
				t.Errorf("%d and %d values drawn; want 5 and 3", len(seqs), len(others))
			}
		})
	}
}

// With bbolt a batch takes every waiting foreground write and the
// background ones beside them.
func TestBackgroundWritesDoNotCrowdABatch(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			if name != "bbolt" {
				t.Skip("on PostgreSQL foreground and background writes are taken by different committers (store.commitLoop): they never share a batch")
			}
			// Hold the committer so that writes queue behind it.
			hold, held := make(chan struct{}), make(chan struct{})
			first := make(chan error, 1)
			go func() {
				first <- db.Update(context.Background(), func(*store.Tx) error { close(held); <-hold; return nil })
			}()
			<-held
			nop := func(*store.Tx) error { return nil }
			var bgDone []chan error
			for range 20 {
				bgDone = append(bgDone, db.Enqueue(nop, store.Background()))
			}
			for range 3 {
				db.Enqueue(nop)
			}
			got := db.Gather(nop)
			bg := 0
			for _, b := range got {
				if b {
					bg++
				}
			}
			want := 20
			if len(got)-bg != 4 || bg != want {
				t.Errorf("batch of %d foreground and %d background writes; want 4 and %d", len(got)-bg, bg, want)
			}
			close(hold)
			if err := <-first; err != nil {
				t.Fatal(err)
			}
			// Gather (a test seam) took its writes off the queues; the
			// others are committed as usual.
			for _, d := range bgDone[bg:] {
				if err := <-d; err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestLargeBodyIsReadableByEveryNode(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			w, err := db.NewSpoolWriter()
			if err != nil {
				t.Fatal(err)
			}
			body := bytes.Repeat([]byte("0123456789"), 100_000)
			if _, err := w.Write(body); err != nil {
				t.Fatal(err)
			}
			if err := w.Commit("msg1"); err != nil {
				t.Fatal(err)
			}
			r, err := db.OpenSpool("msg1")
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(r)
			r.Close()
			if !bytes.Equal(got, body) {
				t.Errorf("body: %d bytes back, want %d", len(got), len(body))
			}
			if err := db.RemoveSpool("msg1"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.OpenSpool("msg1"); err == nil {
				t.Error("removed body still opens")
			}
		})
	}
}

// ViewContext reads like View; on PostgreSQL a context that has ended
// stops the wait for the snapshot (bbolt's snapshot never waits).
func TestViewContext(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error { return tx.Put("b", []byte("k"), []byte("v")) })
			var got string
			if err := db.View(context.Background(), func(tx *store.Tx) error {
				got = string(tx.Get("b", []byte("k")))
				return nil
			}); err != nil || got != "v" {
				t.Fatalf("read %q, %v", got, err)
			}
			if name == "bbolt" {
				return
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			if err := db.View(ctx, func(*store.Tx) error { return nil }); err == nil {
				t.Error("a read began on an ended context")
			}
		})
	}
}
