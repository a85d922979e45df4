package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func open(t testing.TB, opts Options) *DB {
	t.Helper()
	db, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestGroupCommit(t *testing.T) {
	var commits, written atomic.Int64
	db := open(t, Options{})
	db.opts.Observe = func(_ time.Duration, n int, err error) {
		commits.Add(1)
		written.Add(int64(n))
	}
	const writers, each = 20, 50
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				k := fmt.Sprintf("%02d-%03d", w, i)
				if err := db.Update(context.Background(), func(tx *Tx) error { return tx.Put("b", []byte(k), []byte("v")) }); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	var n int
	db.View(context.Background(), func(tx *Tx) error { n = tx.Count("b"); return nil })
	if n != writers*each || written.Load() != writers*each {
		t.Errorf("%d keys, %d writes committed, want %d", n, written.Load(), writers*each)
	}
	if commits.Load() >= writers*each {
		t.Errorf("%d commits for %d writes: no write shared a commit", commits.Load(), writers*each)
	}
	t.Logf("%d writes in %d commits", writers*each, commits.Load())
}

func TestFailingWriteDoesNotSpoilItsBatch(t *testing.T) {
	db := open(t, Options{})
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 30)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(context.Background(), func(tx *Tx) error {
				if err := tx.Put("b", []byte(fmt.Sprint(i)), []byte("v")); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return boom
				case 7:
					panic("write function bug")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var got []byte
		db.View(context.Background(), func(tx *Tx) error { got = tx.Get("b", []byte(fmt.Sprint(i))); return nil })
		switch i % 10 {
		case 3:
			if !errors.Is(err, boom) || got != nil {
				t.Errorf("write %d: err %v, stored %q; want boom and nothing stored", i, err, got)
			}
		case 7:
			if err == nil || got != nil {
				t.Errorf("write %d: a panic must fail only its write (err %v, stored %q)", i, err, got)
			}
		default:
			if err != nil || string(got) != "v" {
				t.Errorf("write %d: err %v, stored %q", i, err, got)
			}
		}
	}
}

func TestUpdateAfterClose(t *testing.T) {
	db, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Update(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("Update after Close: %v", err)
	}
}

func TestSecondOpenIsLocked(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := Open(dir, Options{LockTimeout: 50e6}); !errors.Is(err, ErrLocked) {
		t.Errorf("second open: %v, want ErrLocked", err)
	}
}

func TestScanAndPrune(t *testing.T) {
	db := open(t, Options{})
	db.Update(context.Background(), func(tx *Tx) error {
		for i := 0; i < 1234; i++ {
			tx.Put("t", []byte(fmt.Sprintf("%05d", i)), nil)
		}
		return nil
	})
	var rev []string
	db.View(context.Background(), func(tx *Tx) error {
		return tx.ScanReverse("t", []byte("00003"), func(k, _ []byte) (bool, error) {
			rev = append(rev, string(k))
			return true, nil
		})
	})
	if fmt.Sprint(rev) != "[00002 00001 00000]" {
		t.Errorf("ScanReverse before 00003 = %v", rev)
	}
	var also int
	n, err := db.PruneBefore(context.Background(), "t", []byte("01000"), 100, func(*Tx, []byte, []byte) error { also++; return nil })
	if err != nil || n != 1000 || also != 1000 {
		t.Errorf("pruned %d (also %d) %v, want 1000", n, also, err)
	}
	db.View(context.Background(), func(tx *Tx) error {
		if c := tx.Count("t"); c != 234 {
			t.Errorf("%d keys left, want 234", c)
		}
		return nil
	})
}

func TestCompact(t *testing.T) {
	dir := t.TempDir()
	db, _ := Open(dir, Options{})
	big := make([]byte, 1<<20)
	for i := 0; i < 8; i++ {
		db.Update(context.Background(), func(tx *Tx) error { return tx.Put("b", []byte{byte(i)}, big) })
	}
	db.Update(context.Background(), func(tx *Tx) error {
		for i := 0; i < 7; i++ {
			tx.Delete("b", []byte{byte(i)})
		}
		return nil
	})
	db.Close()
	before, after, err := Compact(dir)
	if err != nil {
		t.Fatal(err)
	}
	if after >= before {
		t.Errorf("compact %d -> %d bytes", before, after)
	}
	db, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(context.Background(), func(tx *Tx) error {
		if v := tx.Get("b", []byte{7}); len(v) != len(big) {
			t.Error("kept key lost by compact")
		}
		return nil
	})
}

// BenchmarkUpdateParallel: 10 writers of 5 KB values, with the log (one
// fdatasync per batch) and without (bbolt's commit per batch).
func BenchmarkUpdateParallel(b *testing.B) {
	for _, noLog := range []bool{false, true} {
		name := "log"
		if noLog {
			name = "nolog"
		}
		b.Run(name, func(b *testing.B) {
			db := open(b, Options{NoLog: noLog})
			val := make([]byte, 5000)
			var seq atomic.Int64
			b.SetParallelism(5) // 10 writers on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					k := fmt.Sprint(seq.Add(1))
					if err := db.Update(context.Background(), func(tx *Tx) error { return tx.Put("b", []byte(k), val) }); err != nil {
						b.Error(err)
					}
				}
			})
		})
	}
}
