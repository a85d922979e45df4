package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// logClock is a clock the test moves.
type logClock struct{ ns atomic.Int64 }

// appendRecord appends one record of epoch holding payload to buf,
// chained to prev (the previous record's CRC, 0 for the epoch's first),
// as the log writes it: the tests' way to make records (the log itself
// builds each in place and seals it, sealRecord).
func appendRecord(buf []byte, epoch uint64, prev uint32, payload []byte) []byte {
	start := len(buf)
	buf = append(buf, make([]byte, recHeader)...)
	buf = append(buf, payload...)
	sealRecord(buf[start:], epoch, prev)
	return buf
}

func (c *logClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *logClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// logTest is a store with the log whose checkpoints the test steers.
type logTest struct {
	dir     string
	clock   *logClock
	hooks   *logHooks
	syncs   atomic.Int64
	mu      sync.Mutex
	blocked map[uint64]chan struct{} // checkpoints held before they write bbolt
	applied chan uint64              // epochs whose checkpoint started
}

func newLogTest(t *testing.T) *logTest {
	lt := &logTest{dir: t.TempDir(), clock: &logClock{}, blocked: map[uint64]chan struct{}{}, applied: make(chan uint64, 100)}
	lt.clock.ns.Store(time.Date(2026, 12, 7, 0, 0, 0, 0, time.UTC).UnixNano())
	lt.hooks = &logHooks{
		now: lt.clock.now,
		syncLog: func(f *os.File) error {
			lt.syncs.Add(1)
			return fdatasync(f)
		},
		beforeApply: func(epoch uint64) {
			lt.mu.Lock()
			ch := lt.blocked[epoch]
			lt.mu.Unlock()
			lt.applied <- epoch
			if ch != nil {
				<-ch
			}
		},
	}
	return lt
}

func (lt *logTest) block(epoch uint64) chan struct{} {
	ch := make(chan struct{})
	lt.mu.Lock()
	lt.blocked[epoch] = ch
	lt.mu.Unlock()
	return ch
}

func (lt *logTest) open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(dir, Options{LogSize: 1 << 20, CheckpointInterval: time.Second, logHooks: lt.hooks, mmapSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// start opens the store in lt.dir, closed when the test ends.
func (lt *logTest) start(t *testing.T) *DB {
	t.Helper()
	db := lt.open(t, lt.dir)
	t.Cleanup(func() { db.Close() })
	return db
}

// afterCrash opens what a crash now would leave of db's files
// (lockedCopy), closed when the test ends.
func (lt *logTest) afterCrash(t *testing.T, db *DB) *DB {
	t.Helper()
	db2 := lt.open(t, lockedCopy(t, db))
	t.Cleanup(func() { db2.Close() })
	return db2
}

// failSync is a log hook's sync that fails while fail is set and is sync
// otherwise.
func failSync(fail *atomic.Bool, sync func(*os.File) error) func(*os.File) error {
	return func(f *os.File) error {
		if fail.Load() {
			return errors.New("disk on fire")
		}
		return sync(f)
	}
}

// crashCopy copies the store's files as they are now into a new folder:
// what a crash would leave of them, since the log's records are synced
// before their batch is answered and bbolt is only ever committed with
// its fsync (no checkpoint may be writing bbolt while it copies).
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	for _, name := range []string{DBFile, LogFile + ".0", LogFile + ".1"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// lockedCopy is crashCopy between batches and checkpoints' writes.
func lockedCopy(t *testing.T, db *DB) string {
	w := db.be.(*walBackend)
	w.cm.Lock()
	defer w.cm.Unlock()
	w.applying.Lock()
	defer w.applying.Unlock()
	return crashCopy(t, db.Dir())
}

func putKV(db *DB, bucket, key, value string) error {
	return db.Update(context.Background(), func(tx *Tx) error { return tx.Put(bucket, []byte(key), []byte(value)) })
}

func getKV(t *testing.T, db *DB, bucket, key string) (string, bool) {
	t.Helper()
	var v []byte
	err := db.View(context.Background(), func(tx *Tx) error {
		v = bytes.Clone(tx.Get(bucket, []byte(key)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(v), v != nil
}

// lastRecord is the offset of the last record of the file's epoch.
func lastRecord(t *testing.T, path string) (start, end int) {
	t.Helper()
	buf, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var epoch uint64
	var prev uint32
	off := 0
	start = -1
	for {
		e, _, n, err := decodeRecord(buf[off:], prev)
		if err != nil || (epoch != 0 && e != epoch) {
			break
		}
		epoch, start, prev = e, off, recordCRC(buf[off:])
		off += n
	}
	if start < 0 {
		t.Fatalf("%s holds no record", path)
	}
	return start, off
}

// A batch costs one fdatasync of the log and no bbolt commit; a crash
// with one checkpoint held before it wrote bbolt and records after it
// loses nothing acknowledged.
func TestLogCrashReplay(t *testing.T) {
	lt := newLogTest(t)
	db := lt.start(t)
	w := db.be.(*walBackend)

	ctx := context.Background()
	var seqs []uint64
	write := func(key string) {
		t.Helper()
		err := db.Update(ctx, func(tx *Tx) error {
			n, err := tx.Sequence("seq")
			seqs = append(seqs, n)
			if err != nil {
				return err
			}
			return tx.Put("kv", []byte(key), []byte("v-"+key))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	before := lt.syncs.Load()
	write("a") // epoch 1
	if got := lt.syncs.Load() - before; got != 1 {
		t.Fatalf("a batch made %d log syncs, want 1", got)
	}
	var boltTx uint64
	_ = w.db.View(func(tx *bolt.Tx) error { boltTx = uint64(tx.ID()); return nil })
	if boltTx != 1 { // bbolt's own first transaction (the two meta pages) only
		t.Fatalf("bbolt is at transaction %d after a logged batch, want 1 (no commit)", boltTx)
	}
	if err := putKV(db, "kv", "gone", "x"); err != nil {
		t.Fatal(err)
	}
	lt.clock.advance(2 * time.Second)
	write("b") // freezes epoch 1, which is applied; b in epoch 2
	if e := <-lt.applied; e != 1 {
		t.Fatalf("checkpoint of epoch %d, want 1", e)
	}
	release := lt.block(2)
	err := db.Update(ctx, func(tx *Tx) error { return tx.Delete("kv", []byte("gone")) })
	if err != nil {
		t.Fatal(err)
	}
	lt.clock.advance(2 * time.Second)
	write("c") // freezes epoch 2, held; c in epoch 3
	if e := <-lt.applied; e != 2 {
		t.Fatalf("checkpoint of epoch %d, want 2", e)
	}
	write("d")
	if w.view.Load().frozen == nil {
		t.Fatal("epoch 2 is not frozen")
	}
	// Reads see every layer while the checkpoint waits.
	for _, k := range []string{"a", "b", "c", "d"} {
		if v, ok := getKV(t, db, "kv", k); !ok || v != "v-"+k {
			t.Fatalf("running store: %s = %q, %v", k, v, ok)
		}
	}
	if _, ok := getKV(t, db, "kv", "gone"); ok {
		t.Fatal("running store: a deleted key is back")
	}

	crashed := lockedCopy(t, db)
	torn := lockedCopy(t, db)
	close(release)

	check := func(dir string, want []string, lastSeq uint64) {
		t.Helper()
		db2 := lt.open(t, dir)
		defer db2.Close()
		for _, k := range []string{"a", "b", "c", "d"} {
			v, ok := getKV(t, db2, "kv", k)
			if slices.Contains(want, k) != ok || (ok && v != "v-"+k) {
				t.Errorf("after the crash: %s = %q, %v; want present %v", k, v, ok, slices.Contains(want, k))
			}
		}
		if _, ok := getKV(t, db2, "kv", "gone"); ok {
			t.Error("after the crash: a deleted key is back")
		}
		var next uint64
		err := db2.Update(ctx, func(tx *Tx) error { var err error; next, err = tx.Sequence("seq"); return err })
		if err != nil {
			t.Fatal(err)
		}
		if next != lastSeq+1 {
			t.Errorf("after the crash the sequence goes on at %d, want %d", next, lastSeq+1)
		}
	}
	check(crashed, []string{"a", "b", "c", "d"}, seqs[3])

	// A torn last record (its batch never answered): the rest replays.
	path := logPath(torn, 3)
	start, end := lastRecord(t, path)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, (end-start)/2), int64(start+(end-start)/2)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	check(torn, []string{"a", "b", "c"}, seqs[2])
}

// A read-only open after a crash reads the log into memory and writes
// nothing.
func TestLogReadOnlyReplay(t *testing.T) {
	lt := newLogTest(t)
	db := lt.open(t, lt.dir)
	if err := putKV(db, "kv", "k", "v"); err != nil {
		t.Fatal(err)
	}
	crashed := lockedCopy(t, db)
	db.Close()
	before, _ := os.ReadFile(filepath.Join(crashed, DBFile))
	ro, err := Open(crashed, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := getKV(t, ro, "kv", "k"); !ok || v != "v" {
		t.Fatalf("read-only after a crash: %q, %v", v, ok)
	}
	ro.Close()
	after, _ := os.ReadFile(filepath.Join(crashed, DBFile))
	if !bytes.Equal(before, after) {
		t.Fatal("a read-only open changed the database")
	}
}

// A file used again two epochs later holds the old epoch's records past
// the new tail: they are not replayed (the new record ends where an old
// one did, so only the epoch tells them apart).
func TestLogStaleRecordsAfterTail(t *testing.T) {
	lt := newLogTest(t)
	db := lt.start(t)
	w := db.be.(*walBackend)
	for i := range 50 { // epoch 1, file 1
		if err := putKV(db, "kv", fmt.Sprintf("k%02d", i), "old"); err != nil {
			t.Fatal(err)
		}
	}
	lt.clock.advance(2 * time.Second)
	if err := putKV(db, "kv", "k01", "epoch2"); err != nil { // epoch 2, file 0
		t.Fatal(err)
	}
	w.cm.Lock()
	if err := w.wait(w.pending); err != nil { // epoch 1 applied
		t.Fatal(err)
	}
	w.cm.Unlock()
	lt.clock.advance(2 * time.Second)
	if err := putKV(db, "kv", "k00", "new"); err != nil { // epoch 3, file 1, as long as k00's old record
		t.Fatal(err)
	}
	if w.epoch != 3 {
		t.Fatalf("epoch %d, want 3", w.epoch)
	}
	db2 := lt.afterCrash(t, db)
	if v, _ := getKV(t, db2, "kv", "k01"); v != "epoch2" {
		t.Fatalf("k01 = %q: an old epoch's record past the tail was replayed", v)
	}
	if v, _ := getKV(t, db2, "kv", "k00"); v != "new" {
		t.Fatalf("k00 = %q", v)
	}
}

// The layers over bbolt answer every read as bbolt alone would have:
// random batches checked against a model, through checkpoints (held and
// not), reopenings and crashes.
func TestLogMatchesModel(t *testing.T) {
	lt := newLogTest(t)
	dir := lt.dir
	db := lt.open(t, dir)
	var release chan struct{}
	defer func() {
		if release != nil {
			close(release)
		}
		db.Close()
	}()
	rng := rand.New(rand.NewPCG(1, 2))
	buckets := []string{"a", "b", "c"}
	model := map[string]map[string]string{}
	seqs := map[string]uint64{}
	for _, b := range buckets {
		model[b] = map[string]string{}
	}
	ctx := context.Background()
	for step := range 400 {
		// One batch of random writes, checked inside its transaction.
		m2 := map[string]map[string]string{}
		for b, kv := range model {
			m2[b] = maps.Clone(kv)
		}
		s2 := maps.Clone(seqs)
		fail := rng.IntN(10) == 0
		err := db.Update(ctx, func(tx *Tx) error {
			for range rng.IntN(8) + 1 {
				b := buckets[rng.IntN(len(buckets))]
				k := fmt.Sprintf("k%02d", rng.IntN(40))
				switch rng.IntN(5) {
				case 0, 1:
					v := fmt.Sprintf("%d-%s", step, bytes.Repeat([]byte("x"), rng.IntN(200)))
					if err := tx.Put(b, []byte(k), []byte(v)); err != nil {
						return err
					}
					m2[b][k] = v
				case 2, 3:
					if err := tx.Delete(b, []byte(k)); err != nil {
						return err
					}
					delete(m2[b], k)
				case 4:
					n, err := tx.Sequence(b)
					if err != nil {
						return err
					}
					s2[b]++
					if n != s2[b] {
						return fmt.Errorf("sequence of %s: %d, want %d", b, n, s2[b])
					}
				}
			}
			if err := compareModel(rng, tx, m2); err != nil {
				return err
			}
			if fail {
				return errors.New("fail")
			}
			return nil
		})
		if fail {
			if err == nil || err.Error() != "fail" {
				t.Fatalf("step %d: %v", step, err)
			}
		} else if err != nil {
			t.Fatalf("step %d: %v", step, err)
		} else {
			model, seqs = m2, s2
		}
		err = db.View(ctx, func(tx *Tx) error { return compareModel(rng, tx, model) })
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		switch rng.IntN(20) {
		case 0, 1, 2:
			lt.clock.advance(2 * time.Second) // a checkpoint at the next batch
		case 3:
			if release == nil {
				w := db.be.(*walBackend)
				w.cm.Lock()
				release = lt.block(w.epoch)
				w.cm.Unlock()
				lt.clock.advance(2 * time.Second)
			}
		case 4:
			if release != nil {
				close(release)
				release = nil
			}
		case 5, 6:
			// A crash: the copy goes on, the old store is dropped.
			crashed := lockedCopy(t, db)
			if release != nil {
				close(release)
				release = nil
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			dir = crashed
			db = lt.open(t, dir)
		case 7:
			if release != nil {
				close(release)
				release = nil
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = lt.open(t, dir)
		}
		for len(lt.applied) > 0 {
			<-lt.applied
		}
		err = db.View(ctx, func(tx *Tx) error {
			for _, b := range buckets {
				if got := tx.ops.(*walTx).seqOf(b); got != seqs[b] {
					return fmt.Errorf("sequence of %s is %d, want %d", b, got, seqs[b])
				}
			}
			return compareModel(rng, tx, model)
		})
		if err != nil {
			t.Fatalf("step %d, after: %v", step, err)
		}
	}
}

// compareModel checks every kind of read of tx against the model.
func compareModel(rng *rand.Rand, tx *Tx, model map[string]map[string]string) error {
	for b, kv := range model {
		keys := slices.Sorted(maps.Keys(kv))
		var got []string
		err := tx.Scan(b, nil, func(k, v []byte) (bool, error) {
			if kv[string(k)] != string(v) {
				return false, fmt.Errorf("%s: %s = %q, want %q", b, k, v, kv[string(k)])
			}
			got = append(got, string(k))
			return true, nil
		})
		if err != nil {
			return err
		}
		if !slices.Equal(got, keys) {
			return fmt.Errorf("%s: scan %v, want %v", b, got, keys)
		}
		if n := tx.Count(b); n != len(keys) {
			return fmt.Errorf("%s: count %d, want %d", b, n, len(keys))
		}
		last := tx.LastKey(b)
		if (len(keys) == 0) != (last == nil) || (last != nil && string(last) != keys[len(keys)-1]) {
			return fmt.Errorf("%s: last key %q, want %v", b, last, keys)
		}
		for range 3 {
			from := fmt.Sprintf("k%02d", rng.IntN(42))
			to := fmt.Sprintf("k%02d", rng.IntN(42))
			var want, gotR []string
			for _, k := range keys {
				if k >= from && k < to {
					want = append(want, k)
				}
			}
			_ = tx.ScanRange(b, []byte(from), []byte(to), func(k, _ []byte) (bool, error) {
				gotR = append(gotR, string(k))
				return true, nil
			})
			if !slices.Equal(gotR, want) {
				return fmt.Errorf("%s: range %s..%s %v, want %v", b, from, to, gotR, want)
			}
			want, gotR = nil, nil
			for i := len(keys) - 1; i >= 0; i-- {
				if keys[i] < from {
					want = append(want, keys[i])
				}
			}
			_ = tx.ScanReverse(b, []byte(from), func(k, _ []byte) (bool, error) {
				gotR = append(gotR, string(k))
				return true, nil
			})
			if !slices.Equal(gotR, want) {
				return fmt.Errorf("%s: reverse before %s %v, want %v", b, from, gotR, want)
			}
			k := fmt.Sprintf("k%02d", rng.IntN(40))
			v := tx.Get(b, []byte(k))
			if w, ok := kv[k]; ok != (v != nil) || string(v) != w {
				return fmt.Errorf("%s: get %s = %q, want %q", b, k, v, w)
			}
		}
	}
	return nil
}

// A log that fails to sync fails the batch and every later one; reads
// never see the failed batch.
func TestLogSyncFailure(t *testing.T) {
	lt := newLogTest(t)
	var fail atomic.Bool
	lt.hooks.syncLog = failSync(&fail, fdatasync)
	db := lt.start(t)
	if err := putKV(db, "kv", "a", "1"); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := putKV(db, "kv", "b", "2"); err == nil {
		t.Fatal("a batch whose log sync failed was acknowledged")
	}
	fail.Store(false)
	if err := putKV(db, "kv", "c", "3"); !errors.Is(err, errLogFailed) {
		t.Fatalf("a batch after a failed sync: %v", err)
	}
	if _, ok := getKV(t, db, "kv", "b"); ok {
		t.Fatal("a failed batch is visible")
	}
}

// A failed fsync of the log's new length breaks the log like a failed
// fdatasync of a record: later syncs of the file may be reported as
// successful without the length on the disk, so no later batch may be
// acknowledged into the grown part.
func TestLogGrowSyncFailure(t *testing.T) {
	lt := newLogTest(t)
	var fail atomic.Bool
	lt.hooks.syncGrow = failSync(&fail, (*os.File).Sync)
	db := lt.start(t)
	if err := putKV(db, "kv", "a", "1"); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	big := strings.Repeat("x", 2<<20) // more than the 1 MiB zeroed at open: the log grows
	if err := putKV(db, "kv", "big", big); err == nil {
		t.Fatal("a batch whose log could not be grown durably was acknowledged")
	}
	fail.Store(false)
	if err := putKV(db, "kv", "c", "3"); !errors.Is(err, errLogFailed) {
		t.Fatalf("a batch after a failed sync of the log's growth: %v", err)
	}
	if v, ok := getKV(t, db, "kv", "a"); !ok || v != "1" {
		t.Fatalf("the batch before the failure reads %q, %v", v, ok)
	}
}

// The log's records and writes read back as written; the fuzz test
// feeds the decoder anything.
func FuzzDecodeLog(f *testing.F) {
	var p []byte
	p = appendPut(p, "emails", []byte("k1"), []byte("value"))
	p = appendDelete(p, "emails", []byte("k0"))
	p = appendSequence(p, "seq", 42)
	first := appendRecord(nil, 3, 0, p)
	f.Add(appendRecord(first, 3, recordCRC(first), appendPut(nil, "b", []byte("k"), nil)))
	f.Add(appendRecord(nil, 1, 0, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		epoch, payloads := readLogFile(data)
		var again []byte
		var prev uint32
		for _, p := range payloads {
			start := len(again)
			again = appendRecord(again, epoch, prev, p)
			prev = recordCRC(again[start:])
			var re []byte
			err := decodeOps(p, func(o logOp) error {
				switch o.op {
				case opPut:
					re = appendPut(re, o.bucket, o.key, o.value)
				case opDelete:
					re = appendDelete(re, o.bucket, o.key)
				case opSequence:
					re = appendSequence(re, o.bucket, o.n)
				}
				return nil
			})
			if err != nil {
				continue
			}
			// uvarints have more than one form: compare decoded writes.
			var a, b []logOp
			_ = decodeOps(p, func(o logOp) error { a = append(a, o); return nil })
			_ = decodeOps(re, func(o logOp) error { b = append(b, o); return nil })
			if len(a) != len(b) {
				t.Fatalf("%d writes decode as %d", len(a), len(b))
			}
			for i := range a {
				if a[i].op != b[i].op || a[i].bucket != b[i].bucket || !bytes.Equal(a[i].key, b[i].key) ||
					!bytes.Equal(a[i].value, b[i].value) || a[i].n != b[i].n {
					t.Fatalf("write %d: %+v, re-encoded %+v", i, a[i], b[i])
				}
			}
		}
		if len(payloads) > 0 {
			if e, p2 := readLogFile(again); e != epoch || len(p2) != len(payloads) {
				t.Fatalf("re-encoded: epoch %d, %d records; want %d, %d", e, len(p2), epoch, len(payloads))
			}
		}
	})
}

// writeBytes is what this process has had written to the disk.
func writeBytes(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		t.Skip("no /proc/self/io")
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	t.Skip("no write_bytes in /proc/self/io")
	return 0
}

// A 5 KB batch writes a few pages to the disk, not the large page-cache
// folio the preallocation left (1 MB per record before dropCache).
func TestLogWritesLittlePerBatch(t *testing.T) {
	db := open(t, Options{})
	val := make([]byte, 5000)
	const n = 500
	w0 := writeBytes(t)
	for i := range n {
		if err := putKV(db, "b", fmt.Sprintf("%08d", i), string(val)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if per := (writeBytes(t) - w0) / n; per > 64<<10 {
		t.Fatalf("%d bytes written to the disk per 5 KB batch", per)
	}
}

// An email's bytes go into a record as they came (the raw message): a
// sender can put in one a well-formed record of a later epoch, which
// stays in the file once its epoch is applied. When that epoch's file is
// reused and its records end exactly where the planted one starts, the
// planted record must not be read as the epoch's: each record's checksum
// goes on from the previous record's, which the sender cannot know when
// the planted bytes are written.
func TestLogPlantedRecordAfterTail(t *testing.T) {
	evil := appendPut(nil, "operators", []byte("admin"), []byte("attacker"))
	fresh := appendPut(nil, "kv", []byte("k"), []byte("a value of the new epoch"))
	// Epoch 1's record: a raw email carrying a record of epoch 3.
	oldPayload := appendPut(nil, "raw", []byte("id"), make([]byte, 200))
	old := appendRecord(nil, 1, 0, oldPayload)
	planted := appendRecord(nil, 3, 0, evil)
	newRec := appendRecord(nil, 3, 0, fresh)
	copy(old[len(newRec):], planted)
	// Epoch 3 reuses the file from its start; its one record ends where
	// the planted one starts.
	file := append(append([]byte(nil), old...), make([]byte, 64)...)
	copy(file, newRec)
	epoch, payloads := readLogFile(file)
	if epoch != 3 || len(payloads) != 1 {
		t.Fatalf("epoch %d, %d records; want epoch 3, 1 record: a record planted past the tail was replayed", epoch, len(payloads))
	}
}

// A batch whose record recovery would refuse (longer than maxRecord) is
// failed, not acknowledged: acknowledged, it would be lost at the next
// start with every record after it in its file.
func TestLogRecordTooLarge(t *testing.T) {
	defer func(n int) { maxRecord = n }(maxRecord)
	maxRecord = 64 << 10
	lt := newLogTest(t)
	db := lt.open(t, lt.dir)
	defer db.Close() // before maxRecord is restored
	big := strings.Repeat("x", maxRecord)
	if err := putKV(db, "kv", "big", big); err == nil {
		t.Error("a record longer than maxRecord was acknowledged")
	}
	if err := putKV(db, "kv", "after", "small"); err != nil {
		t.Fatal(err)
	}
	db2 := lt.open(t, lockedCopy(t, db))
	defer db2.Close()
	if v, _ := getKV(t, db2, "kv", "after"); v != "small" {
		t.Fatalf("after a crash: %q, want the acknowledged write after the large one", v)
	}
}

// Reads see a batch only once its record is synced (ReadsAreDurable):
// not while its fdatasync runs, and never if it fails. Plain bbolt makes
// no such promise.
func TestLogReadsAreDurable(t *testing.T) {
	lt := newLogTest(t)
	var fail atomic.Bool
	var mu sync.Mutex
	var release chan struct{} // closed: the held fdatasync goes on
	syncing := make(chan struct{}, 1)
	lt.hooks.syncLog = func(f *os.File) error {
		mu.Lock()
		r := release
		mu.Unlock()
		syncing <- struct{}{}
		<-r
		if fail.Load() {
			return errors.New("disk on fire")
		}
		return fdatasync(f)
	}
	hold := func() func() {
		r := make(chan struct{})
		mu.Lock()
		release = r
		mu.Unlock()
		var once sync.Once
		return func() { once.Do(func() { close(r) }) }
	}
	db := lt.start(t)
	if !db.ReadsAreDurable() {
		t.Fatal("bbolt with the log: ReadsAreDurable is false")
	}
	ctx := context.Background()
	seen := func(key string) bool {
		t.Helper()
		res, err := db.Snapshot(ctx, Get("kv", []byte(key)))
		if err != nil {
			t.Fatal(err)
		}
		_, ok := getKV(t, db, "kv", key)
		if ok != (len(res[0]) == 1) {
			t.Fatalf("%s: View and Snapshot disagree", key)
		}
		return ok
	}
	for _, c := range []struct {
		key  string
		fail bool
	}{{"a", false}, {"b", true}} {
		fail.Store(c.fail)
		done := make(chan error, 1)
		unhold := hold()
		defer unhold() // a failed check lets the batch end, and Close run
		go func() { done <- putKV(db, "kv", c.key, "v") }()
		<-syncing // the record is written, its fdatasync not done
		if seen(c.key) {
			t.Fatalf("%s is visible while its record's fdatasync runs", c.key)
		}
		unhold()
		err := <-done
		if c.fail != (err != nil) {
			t.Fatalf("%s: %v", c.key, err)
		}
		if seen(c.key) == c.fail {
			t.Fatalf("%s: visible %v after a sync that failed: %v", c.key, !c.fail, c.fail)
		}
	}
	if plain := open(t, Options{NoLog: true}); plain.ReadsAreDurable() {
		t.Fatal("plain bbolt: ReadsAreDurable is true")
	}
}

// A record's write goes on with zeros to the end of its last page (a
// write ending inside a page the cache does not hold reads the page from
// the disk first), never past that page nor the zeroed length, and what
// follows stays readable as stale bytes past the tail.
func TestLogWritesWholePages(t *testing.T) {
	lt := newLogTest(t)
	db := lt.start(t)
	w := db.be.(*walBackend)
	if err := putKV(db, "kv", "a", "1"); err != nil {
		t.Fatal(err)
	}
	name := logPath(lt.dir, w.epoch)
	st0, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	// Stale bytes past the tail, as a reused file holds.
	f, err := os.OpenFile(name, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	start := w.off
	stale := bytes.Repeat([]byte{0xAA}, 3*pageSize)
	if _, err := f.WriteAt(stale, start); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := putKV(db, "kv", "b", strings.Repeat("y", 300)); err != nil {
		t.Fatal(err)
	}
	end := w.off
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != st0.Size() {
		t.Fatalf("the log file is %d bytes long after a record, was %d", len(data), st0.Size())
	}
	pageEnd := (end + pageSize - 1) / pageSize * pageSize
	if i := bytes.IndexFunc(data[end:pageEnd], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("byte %d after the record, in its last page, is not zero: the write stopped at the record's end", i)
	}
	if pageEnd < start+int64(len(stale)) && data[pageEnd] != 0xAA {
		t.Fatal("the write went past the record's last page")
	}
	db2 := lt.afterCrash(t, db)
	if v, _ := getKV(t, db2, "kv", "b"); v != strings.Repeat("y", 300) {
		t.Fatalf("b = %q after a crash", v)
	}
}
