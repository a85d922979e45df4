package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The committer's idle tick never freezes the active layer under an open
// write transaction (RunBatch runs beside the committer): the batch's
// copy of the layer would be published over the fresh one, and a key
// deleted without a tombstone (it was only in the active layer when the
// transaction began) would come back from the frozen layer.
func TestLogTickDuringWriteTx(t *testing.T) {
	lt := newLogTest(t)
	db := lt.open(t, lt.dir)
	defer db.Close()
	w := db.be.(*walBackend)
	if err := putKV(db, "kv", "k", "v"); err != nil {
		t.Fatal(err)
	}
	ops, err := w.begin(context.Background(), true, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ops.del("kv", []byte("k")); err != nil {
		t.Fatal(err)
	}
	lt.clock.advance(2 * time.Second)
	w.tick() // the committer's idle tick, beside the write transaction
	if err := ops.commit(); err != nil {
		t.Fatal(err)
	}
	if v, ok := getKV(t, db, "kv", "k"); ok {
		t.Fatalf("a deleted key reads %q after a tick froze the layer under its transaction", v)
	}
	if err := w.checkpoint(); err != nil {
		t.Fatal(err)
	}
	if v, ok := getKV(t, db, "kv", "k"); ok {
		t.Fatalf("a deleted key reads %q after the checkpoint", v)
	}
}

// invKeys is the set of keys batch n of TestLogReadersDuringCheckpoints
// leaves: about half of 150 (more than a tree cursor's chunk), which ones
// changing with n.
func invKeys(n uint64) []string {
	var out []string
	for i := range 150 {
		if (uint64(i)*7+n*13)%5 < 3 {
			out = append(out, fmt.Sprintf("k%03d", i))
		}
	}
	return out
}

// Readers running beside batches and checkpoints (held and released,
// frozen layers dropped) see every batch whole or not at all: each batch
// puts invKeys(n) with value n (every third an empty value) and deletes
// the rest, so a reader must see exactly the keys of one n, in every
// kind of read.
func TestLogReadersDuringCheckpoints(t *testing.T) {
	lt := newLogTest(t)
	db := lt.open(t, lt.dir)
	defer db.Close()
	ctx := context.Background()
	var done atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			for !done.Load() {
				err := db.View(ctx, func(tx *Tx) error { return checkInv(rng, tx) })
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var release chan struct{}
	w := db.be.(*walBackend)
	for n := uint64(1); n <= 200 && len(errs) == 0; n++ {
		err := db.Update(ctx, func(tx *Tx) error {
			keep := invKeys(n)
			for i := range 150 {
				k := fmt.Sprintf("k%03d", i)
				if _, ok := slices.BinarySearch(keep, k); ok {
					v := []byte(fmt.Sprint(n))
					if i%3 == 0 {
						v = []byte{}
					}
					if err := tx.Put("inv", []byte(k), v); err != nil {
						return err
					}
				} else if err := tx.Delete("inv", []byte(k)); err != nil {
					return err
				}
			}
			if err := tx.Put("inv", []byte("n"), []byte(fmt.Sprint(n))); err != nil {
				return err
			}
			return checkInv(rng, tx)
		})
		if err != nil {
			t.Fatalf("batch %d: %v", n, err)
		}
		switch rng.IntN(6) {
		case 0, 1:
			lt.clock.advance(2 * time.Second)
		case 2:
			if release == nil {
				w.cm.Lock()
				release = lt.block(w.epoch)
				w.cm.Unlock()
				lt.clock.advance(2 * time.Second)
			}
		case 3:
			if release != nil {
				close(release)
				release = nil
			}
		}
		for len(lt.applied) > 0 {
			<-lt.applied
		}
	}
	if release != nil {
		close(release)
	}
	done.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func checkInv(rng *rand.Rand, tx *Tx) error {
	nv := tx.Get("inv", []byte("n"))
	if nv == nil {
		return nil // before the first batch
	}
	var n uint64
	fmt.Sscan(string(nv), &n)
	want := invKeys(n)
	val := func(k string) string {
		var i int
		fmt.Sscanf(k, "k%03d", &i)
		if i%3 == 0 {
			return ""
		}
		return fmt.Sprint(n)
	}
	var got []string
	err := tx.Scan("inv", nil, func(k, v []byte) (bool, error) {
		if string(k) == "n" {
			return true, nil
		}
		if string(v) != val(string(k)) || v == nil {
			return false, fmt.Errorf("batch %d: %s = %q", n, k, v)
		}
		got = append(got, string(k))
		return true, nil
	})
	if err != nil {
		return err
	}
	if !slices.Equal(got, want) {
		return fmt.Errorf("batch %d: scan %v, want %v", n, got, want)
	}
	if c := tx.Count("inv"); c != len(want)+1 {
		return fmt.Errorf("batch %d: count %d, want %d", n, c, len(want)+1)
	}
	if lk := tx.LastKey("inv"); string(lk) != "n" {
		return fmt.Errorf("batch %d: last key %q", n, lk)
	}
	from := fmt.Sprintf("k%03d", rng.IntN(152))
	to := fmt.Sprintf("k%03d", rng.IntN(152))
	var wantR, gotR []string
	for _, k := range want {
		if k >= from && k < to {
			wantR = append(wantR, k)
		}
	}
	_ = tx.ScanRange("inv", []byte(from), []byte(to), func(k, _ []byte) (bool, error) {
		gotR = append(gotR, string(k))
		return true, nil
	})
	if !slices.Equal(gotR, wantR) {
		return fmt.Errorf("batch %d: range %s..%s %v, want %v", n, from, to, gotR, wantR)
	}
	wantR, gotR = nil, nil
	for i := len(want) - 1; i >= 0; i-- {
		if want[i] < from {
			wantR = append(wantR, want[i])
		}
	}
	_ = tx.ScanReverse("inv", []byte(from), func(k, _ []byte) (bool, error) {
		gotR = append(gotR, string(k))
		return true, nil
	})
	if !slices.Equal(gotR, wantR) {
		return fmt.Errorf("batch %d: reverse before %s %v, want %v", n, from, gotR, wantR)
	}
	wantR, gotR = nil, nil
	for i := len(want) - 1; i >= 0; i-- {
		wantR = append(wantR, want[i])
	}
	_ = tx.ScanReverse("inv", []byte("k999"), func(k, _ []byte) (bool, error) {
		gotR = append(gotR, string(k))
		return true, nil
	})
	if !slices.Equal(gotR, wantR) {
		return fmt.Errorf("batch %d: reverse from the end %v, want %v", n, gotR, wantR)
	}
	p := fmt.Sprintf("k%02d", rng.IntN(16))
	wantR, gotR = nil, nil
	for _, k := range want {
		if bytes.HasPrefix([]byte(k), []byte(p)) {
			wantR = append(wantR, k)
		}
	}
	_ = tx.ScanPrefix("inv", []byte(p), func(k, _ []byte) (bool, error) {
		gotR = append(gotR, string(k))
		return true, nil
	})
	if !slices.Equal(gotR, wantR) {
		return fmt.Errorf("batch %d: prefix %s %v, want %v", n, p, gotR, wantR)
	}
	return nil
}

// The layers hold about what the log holds: not the record's buffers
// pinned at every size they had while the batch grew (the entries
// pointed into them), which made a layer 4.3 times its log bytes.
func TestLogLayerMemory(t *testing.T) {
	lt := newLogTest(t)
	db, err := Open(lt.dir, Options{LogSize: 64 << 20, CheckpointInterval: time.Hour, logHooks: lt.hooks})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	w := db.be.(*walBackend)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	val := make([]byte, 200)
	i := 0
	for w.off < 8<<20 {
		err := db.Update(context.Background(), func(tx *Tx) error {
			for range 50 {
				i++
				if err := tx.Put("b", []byte(fmt.Sprintf("key-%010d", i)), val); err != nil {
					return err
				}
				if i%3 == 0 {
					if err := tx.Delete("b", []byte(fmt.Sprintf("key-%010d", i-1))); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	grew := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("log %d bytes, heap +%d bytes (%.1fx)", w.off, grew, float64(grew)/float64(w.off))
	if grew > 5*w.off/2 {
		t.Fatalf("the layer holds %d bytes of heap for %d bytes of log (more than 2.5x)", grew, w.off)
	}
	runtime.KeepAlive(db)
}

// A read-only open after a crash keeps what the log's records hold, not
// the files they were read from: 100 writes of one 40 KB key leave a
// layer of 40 KB over 4 MB of records, which the
// layer's entries pinned whole when they pointed into them.
func TestLogReadOnlyFreesLogFiles(t *testing.T) {
	lt := newLogTest(t)
	db, err := Open(lt.dir, Options{LogSize: 64 << 20, CheckpointInterval: time.Hour, logHooks: lt.hooks})
	if err != nil {
		t.Fatal(err)
	}
	val := bytes.Repeat([]byte("v"), 40<<10)
	for i := range 100 {
		val[0] = byte(i)
		if err := putKV(db, "kv", "k", string(val)); err != nil {
			t.Fatal(err)
		}
	}
	crashed := lockedCopy(t, db)
	db.Close()
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	ro, err := Open(crashed, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	grew := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	t.Logf("heap +%d bytes after a read-only open", grew)
	if v, ok := getKV(t, ro, "kv", "k"); !ok || !bytes.Equal([]byte(v), val) {
		t.Fatalf("read-only after a crash: %d bytes, %v", len(v), ok)
	}
	if grew > 1<<20 {
		t.Fatalf("a read-only open holds %d bytes of heap for a 40 KB layer: the log files' buffers are pinned", grew)
	}
	runtime.KeepAlive(ro)
}
