package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// walBackend is the bbolt store with a write-ahead log in front (the
// default; Options.NoLog keeps plain bbolt). A batch of the group commit
// is one record appended to a preallocated log file and one fdatasync;
// its writes then join the active layer in memory, which every read
// consults above bbolt. bbolt itself is written only by checkpoints: a
// checkpoint freezes the active layer (a fresh one takes the next
// batches, in the other log file), and a goroutine of its own applies
// the frozen layer to bbolt in one ordinary, fsynced bbolt transaction,
// together with the number of its epoch (walBucket), then drops it. bbolt
// is never committed without its fsync, so the file is always a
// checkpoint's state, and Open replays onto it the records of the epochs
// after the one it names.
//
// Limits: a checkpoint starts when the active log file holds half its
// size (Options.LogSize, default 64 MiB; written with zeros ahead of the
// records, 1 MiB at first and doubling, 8 MiB at most per step, as records
// reach the end) or the oldest
// record in it is CheckpointInterval old (default 2 s); writers wait for
// the previous checkpoint only when the active file is full; a record
// larger than the file's room still goes in (the file grows); a batch
// whose record would be longer than maxRecord (1 GiB) fails.
type walBackend struct {
	db   *bolt.DB
	dir  string
	view atomic.Pointer[walView]
	mu   sync.Mutex // changes of view

	// The committer's (one goroutine, as with bbolt: Options.Committers
	// does not apply), under cm for its idle tick and tests' RunBatch.
	cm      sync.Mutex
	writer  sync.Mutex
	rec     []byte // the last batch's record buffer, for the next (under writer)
	files   [2]*os.File
	zeroed  [2]int64 // the files' sizes: written zeros or records
	epoch   uint64
	off     int64
	chain   uint32    // the CRC of the epoch's last record (0 at its start)
	first   time.Time // when the epoch's first record was written
	pending *ckptJob  // the checkpoint running, or nil
	broken  error

	logSize  int64
	interval time.Duration
	readOnly bool

	jobs    chan *ckptJob
	stop    chan struct{}
	stopped chan struct{}
	// hooks are the clock, the log's fdatasync and the fsync of its
	// zeros and new length (tests replace them), and tests' seam before
	// a checkpoint writes bbolt.
	hooks logHooks
	// applying is held while a checkpoint writes bbolt (tests copy the
	// files between).
	applying sync.Mutex
}

// logHooks let tests hold a checkpoint before it writes bbolt, count the
// log's syncs and set the clock; openWAL fills in the defaults of those
// a test leaves nil.
type logHooks struct {
	beforeApply func(epoch uint64)   // default: none
	syncLog     func(*os.File) error // default: fdatasync
	syncGrow    func(*os.File) error // default: (*os.File).Sync
	now         func() time.Time     // default: time.Now
}

// walView is what readers layer over bbolt. ver changes when a layer is
// frozen and when a frozen one is dropped (its checkpoint done).
type walView struct {
	active, frozen *layer
	ver            uint64
}

// ckptJob is one checkpoint: layer applied as epoch.
type ckptJob struct {
	layer *layer
	epoch uint64
	done  chan struct{}
	mu    sync.Mutex
	err   error
}

func (j *ckptJob) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// walBucket holds, under key "epoch", the last epoch applied to bbolt.
const walBucket = "\x00log"

// DefaultLogSize and DefaultCheckpointInterval are the log's defaults.
const (
	DefaultLogSize            = 64 << 20
	DefaultCheckpointInterval = 2 * time.Second
	minLogSize                = 1 << 20
	// firstZeroed is how much of each log file is written with zeros at
	// first; the rest follows as records reach it, in steps that double
	// up to the file's size (a store that is opened and closed, as in
	// tests, writes 2 MiB, not twice the log size).
	firstZeroed = 1 << 20
	// maxZeroStep bounds one extension (a write of zeros and an fsync on
	// the batch's path: about 20-50 ms here).
	maxZeroStep = 8 << 20
)

// zeroTo makes file i at least upto bytes long, with written zeros
// (doubling its size, by maxZeroStep at most and up to the log size, or
// to upto if that is more).
func (w *walBackend) zeroTo(i int, upto int64) error {
	if upto <= w.zeroed[i] {
		return nil
	}
	step := min(max(w.zeroed[i], firstZeroed), maxZeroStep)
	target := max(upto, min(w.logSize, w.zeroed[i]+step))
	if err := preallocate(w.files[i], w.dir, w.zeroed[i], target, w.hooks.syncGrow); err != nil {
		return err
	}
	dropCache(w.files[i])
	w.zeroed[i] = target
	return nil
}

func appliedEpoch(tx *bolt.Tx) uint64 {
	if b := tx.Bucket([]byte(walBucket)); b != nil {
		if v := b.Get([]byte("epoch")); len(v) == 8 {
			return binary.BigEndian.Uint64(v)
		}
	}
	return 0
}

// openWAL replays the log onto the bbolt file (and, unless read-only,
// checkpoints what it replayed) and opens the log for appending.
func openWAL(db *bolt.DB, dir string, opts Options) (*walBackend, error) {
	w := &walBackend{db: db, dir: dir, logSize: opts.LogSize, interval: opts.CheckpointInterval,
		readOnly: opts.ReadOnly,
		jobs:     make(chan *ckptJob, 1), stop: make(chan struct{}), stopped: make(chan struct{})}
	if opts.logHooks != nil {
		w.hooks = *opts.logHooks
	}
	if w.hooks.syncLog == nil {
		w.hooks.syncLog = fdatasync
	}
	if w.hooks.syncGrow == nil {
		w.hooks.syncGrow = (*os.File).Sync
	}
	if w.hooks.now == nil {
		w.hooks.now = time.Now
	}
	if w.logSize == 0 {
		w.logSize = DefaultLogSize
	}
	if w.logSize < minLogSize {
		return nil, fmt.Errorf("store: log size %d is below the minimum %d", w.logSize, minLogSize)
	}
	if w.interval == 0 {
		w.interval = DefaultCheckpointInterval
	}
	var applied uint64
	if err := db.View(func(tx *bolt.Tx) error { applied = appliedEpoch(tx); return nil }); err != nil {
		return nil, err
	}
	replayed, last, err := replayLog(dir, applied)
	if err != nil {
		return nil, err
	}
	w.view.Store(&walView{active: newLayer()})
	if w.readOnly {
		// An offline reader after a crash: the log's writes are read into
		// memory, nothing is written. The layer's keys and values are
		// copied out of the files' buffers, which it would otherwise pin
		// whole (both files, zeros and overwritten writes included).
		replayed.detach()
		w.view.Store(&walView{active: replayed})
		close(w.stopped)
		return w, nil
	}
	if !replayed.empty() {
		if err := w.apply(replayed, last); err != nil {
			return nil, fmt.Errorf("apply the log: %w", err)
		}
	}
	w.epoch = max(applied, last) + 1
	for i := range w.files {
		f, err := os.OpenFile(logPath(dir, uint64(i)), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			w.closeFiles()
			return nil, fmt.Errorf("open log: %w", err)
		}
		w.files[i] = f
		fi, err := f.Stat()
		if err == nil {
			w.zeroed[i] = fi.Size()
			err = w.zeroTo(i, min(firstZeroed, w.logSize))
		}
		if err != nil {
			w.closeFiles()
			return nil, fmt.Errorf("open log: %w", err)
		}
		dropCache(f) // read at recovery in large reads: see dropCache
	}
	go w.checkpointer()
	return w, nil
}

// replayLog reads the records of the epochs after applied into a layer;
// last is the latest epoch read (0 if none).
func replayLog(dir string, applied uint64) (*layer, uint64, error) {
	type file struct {
		epoch    uint64
		payloads [][]byte
	}
	var files []file
	for i := range uint64(2) {
		buf, err := os.ReadFile(logPath(dir, i))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read log: %w", err)
		}
		if e, p := readLogFile(buf); e > applied {
			files = append(files, file{e, p})
		}
	}
	sort.Slice(files, func(i, j int) bool { return files[i].epoch < files[j].epoch })
	l := newLayer()
	own := map[string]bool{}
	var arena []byte
	var last uint64
	for i, f := range files {
		// Epoch e+1 starts only once e is applied: the log after a
		// checkpoint holds applied+1 and maybe applied+2, no more.
		if f.epoch != applied+1+uint64(i) {
			return nil, 0, fmt.Errorf("store: the log holds epoch %d but the database is at epoch %d: the log files (%s.*) are not this database's (a database restored from a backup goes without the log files)", f.epoch, applied, LogFile)
		}
		for _, p := range f.payloads {
			err := decodeOps(p, func(o logOp) error {
				l.apply(o, own, &arena)
				return nil
			})
			if err != nil {
				return nil, 0, fmt.Errorf("replay log epoch %d: %w", f.epoch, err)
			}
		}
		last = f.epoch
	}
	return l, last, nil
}

// begin starts a transaction over the current view. The view and the
// bbolt snapshot must agree: a frozen layer may already be in bbolt (its
// writes are then applied twice, the same result), but bbolt must not
// hold a layer newer than the view's (a checkpoint frozen after the view
// was taken), so begin takes them again if a checkpoint moved between.
func (w *walBackend) begin(_ context.Context, writable bool, _ []readKey, _ *lockSet) (txOps, error) {
	if writable {
		// One write transaction at a time, as bbolt's own (RunBatch in
		// tests runs beside the committer); walTx releases it.
		w.writer.Lock()
		w.cm.Lock()
		err := w.broken
		if err == nil {
			err = w.maybeCheckpoint(false)
		}
		w.cm.Unlock()
		if err != nil {
			w.writer.Unlock()
			return nil, err
		}
	}
	for {
		v := w.view.Load()
		btx, err := w.db.Begin(false)
		if err != nil {
			if writable {
				w.writer.Unlock()
			}
			return nil, err
		}
		if w.view.Load().ver != v.ver {
			_ = btx.Rollback()
			continue
		}
		t := &walTx{w: w, btx: btx, layers: [2]*layer{v.active, v.frozen}, write: writable}
		if writable {
			t.layers[0] = v.active.writable()
			t.own = map[string]bool{}
		}
		return t, nil
	}
}

// pageSize is the page cache's unit, zeroPage a page of zeros.
const pageSize = 4096

var zeroPage [pageSize]byte

// append logs one batch and, once the record is synced, publishes its
// layer (committer goroutine).
func (w *walBackend) append(rec []byte, l *layer) error {
	w.cm.Lock()
	defer w.cm.Unlock()
	if w.broken != nil {
		return w.broken
	}
	if len(rec)-recHeader > maxRecord {
		// Recovery would stop at it: fail the batch, log nothing.
		return fmt.Errorf("store: the batch's writes take %d bytes, more than a log record holds (%d)", len(rec)-recHeader, maxRecord)
	}
	if w.off == 0 {
		w.chain = 0
	}
	sealRecord(rec, w.epoch, w.chain)
	f := w.files[w.epoch%2]
	if err := w.zeroTo(int(w.epoch%2), w.off+int64(len(rec))); err != nil {
		if errors.Is(err, errGrowSync) {
			w.broken = fmt.Errorf("%w: extend: %w", errLogFailed, err)
			return w.broken
		}
		return fmt.Errorf("store: extend the log: %w", err)
	}
	// The write goes on with zeros to the end of the record's last page
	// (the file holds zeros or stale records there, both ignored by
	// recovery) where the file is zeroed that far: a write that ends
	// inside a page the cache does not hold (dropCache after each
	// growth) reads the page from the disk first, and the committer
	// waited for that read at every record (0.38 s of 2 s under load).
	// The same pages are dirtied, so the fdatasync writes as much.
	end := w.off + int64(len(rec))
	pad := (pageSize - end%pageSize) % pageSize
	if end+pad > w.zeroed[w.epoch%2] {
		pad = 0
	}
	if err := writeAt(f, rec, zeroPage[:pad], w.off); err != nil {
		w.broken = fmt.Errorf("%w: write: %w", errLogFailed, err)
		return w.broken
	}
	if err := w.hooks.syncLog(f); err != nil {
		// The record may or may not be on the disk: nothing may follow
		// it in this file (a later record behind a torn one is lost).
		w.broken = fmt.Errorf("%w: fdatasync: %w", errLogFailed, err)
		return w.broken
	}
	if w.off == 0 {
		w.first = w.hooks.now()
	}
	w.off += int64(len(rec))
	w.chain = recordCRC(rec)
	w.mu.Lock()
	v := w.view.Load()
	w.view.Store(&walView{active: l, frozen: v.frozen, ver: v.ver})
	w.mu.Unlock()
	return nil
}

// maybeCheckpoint freezes the active layer when the log file holds half
// its size or its first record is older than the interval (idle: on the
// committer's tick, never waiting). A writer waits for the previous
// checkpoint only when the file is full.
func (w *walBackend) maybeCheckpoint(idle bool) error {
	if w.off == 0 || (w.off < w.logSize/2 && w.hooks.now().Sub(w.first) < w.interval) {
		return nil
	}
	if w.pending != nil {
		select {
		case <-w.pending.done:
		default:
			if idle || w.off < w.logSize {
				return nil
			}
			if err := w.wait(w.pending); err != nil {
				return err
			}
		}
		w.pending = nil
	}
	w.freeze()
	return nil
}

// wait waits for a checkpoint, or for its first failure.
func (w *walBackend) wait(j *ckptJob) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-j.done:
			return nil
		case <-t.C:
			if err := j.failure(); err != nil {
				return fmt.Errorf("store: checkpoint: %w", err)
			}
		}
	}
}

// freeze hands the active layer to the checkpointer and starts the next
// epoch in the other file (whose epoch, two back, is applied).
func (w *walBackend) freeze() {
	w.mu.Lock()
	v := w.view.Load()
	j := &ckptJob{layer: v.active, epoch: w.epoch, done: make(chan struct{})}
	w.view.Store(&walView{active: newLayer(), frozen: v.active, ver: v.ver + 1})
	w.mu.Unlock()
	w.pending = j
	w.jobs <- j
	w.epoch++
	w.off = 0
}

// checkpointer applies frozen layers to bbolt, one at a time, retrying a
// failure every second until Close.
func (w *walBackend) checkpointer() {
	defer close(w.stopped)
	for {
		var j *ckptJob
		select {
		case j = <-w.jobs:
		case <-w.stop:
			return
		}
		if w.hooks.beforeApply != nil {
			w.hooks.beforeApply(j.epoch)
		}
		for {
			w.applying.Lock()
			err := w.apply(j.layer, j.epoch)
			w.applying.Unlock()
			j.mu.Lock()
			j.err = err
			j.mu.Unlock()
			if err == nil {
				break
			}
			select {
			case <-w.stop:
				return
			case <-time.After(time.Second):
			}
		}
		w.mu.Lock()
		v := w.view.Load()
		w.view.Store(&walView{active: v.active, ver: v.ver + 1})
		w.mu.Unlock()
		close(j.done)
	}
}

// apply writes a layer to bbolt in one fsynced transaction, with its
// epoch.
func (w *walBackend) apply(l *layer, epoch uint64) error {
	return w.db.Update(func(tx *bolt.Tx) error {
		for name, bl := range l.b {
			var b *bolt.Bucket
			var err error
			if bl.created {
				if b, err = tx.CreateBucketIfNotExists([]byte(name)); err != nil {
					return fmt.Errorf("bucket %q: %w", name, err)
				}
			} else if b = tx.Bucket([]byte(name)); b == nil {
				continue // deletions in a bucket that does not exist
			}
			bl.t.Ascend(func(e entry) bool {
				if e.del {
					err = b.Delete(e.key())
				} else {
					err = b.Put(e.key(), e.value())
				}
				return err == nil
			})
			if err != nil {
				return fmt.Errorf("bucket %q: %w", name, err)
			}
			if bl.hasSeq {
				if err := b.SetSequence(bl.seq); err != nil {
					return err
				}
			}
		}
		b, err := tx.CreateBucketIfNotExists([]byte(walBucket))
		if err != nil {
			return err
		}
		return b.Put([]byte("epoch"), binary.BigEndian.AppendUint64(nil, epoch))
	})
}

// tick is the committer's idle call (no batch waiting).
//
// It freezes nothing while a write transaction is open (RunBatch runs
// beside the committer): that transaction's copy of the active layer
// would be published over the fresh one, and a key it deleted without a
// tombstone would come back from the frozen layer.
func (w *walBackend) tick() {
	if !w.writer.TryLock() {
		return
	}
	defer w.writer.Unlock()
	if w.cm.TryLock() {
		if w.broken == nil {
			_ = w.maybeCheckpoint(true)
		}
		w.cm.Unlock()
	}
}

// checkpoint applies everything logged so far to bbolt and waits for it
// (Close; tests).
func (w *walBackend) checkpoint() error {
	w.cm.Lock()
	defer w.cm.Unlock()
	if w.pending != nil {
		if err := w.wait(w.pending); err != nil {
			return err
		}
		w.pending = nil
	}
	if w.off == 0 {
		return nil
	}
	w.freeze()
	err := w.wait(w.pending)
	if err == nil {
		w.pending = nil
	}
	return err
}

func (w *walBackend) size() int64 { return (&boltBackend{db: w.db}).size() }

func (w *walBackend) retryable(err error) bool { return (&boltBackend{db: w.db}).retryable(err) }

func (w *walBackend) close() error {
	var err error
	if !w.readOnly {
		if w.broken == nil {
			err = w.checkpoint()
		}
		close(w.stop)
		<-w.stopped
		w.closeFiles()
	}
	if cerr := w.db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *walBackend) closeFiles() {
	for i, f := range w.files {
		if f != nil {
			f.Close()
			w.files[i] = nil
		}
	}
}
