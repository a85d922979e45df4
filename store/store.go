// Package store is deskmail's durable state. Two backends sit under one
// API: one bbolt file in the data folder plus a spool of large message
// bodies beside it (the embedded default), or a PostgreSQL database that
// any number of nodes share (--store postgres://...).
//
// Writers never talk to bbolt directly. Every write goes through
// DB.Update, which hands the function to a single committer goroutine; the
// committer runs every function that is waiting into one bbolt transaction
// and fsyncs once for all of them (group commit). Under load the cost of an
// fsync is shared by every session that waited for it, so the accept rate is
// not capped at one fsync per message, and with one writer there is no added
// delay (the committer never waits for a batch to fill).
//
// Domain packages see only Tx, a narrow view of a transaction with buckets
// named by string, so neither bbolt nor pgx types leave this package and no
// domain package knows which backend runs. On PostgreSQL several
// committers per node run the same group commit, each batch in one
// transaction that holds the locks its writes declared (Locks,
// SharedLocks), or the cluster's writer lock alone for writes that
// declared none (see postgres.go). Writes nobody waits on at a socket (Background)
// ride a few to a batch beside the ones a client waits for, and a write may
// name what it will read (Reads, ReadsLast, ReadsRange, Draws) so that PostgreSQL
// fetches it for the whole batch in one round trip.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrClosed is returned by Update after Close.
var ErrClosed = errors.New("store: closed")

// ErrLocked is returned by Open when another process holds the database.
var ErrLocked = errors.New("store: database is in use by another process")

// DBFile is the name of the bbolt file inside the data folder.
const DBFile = "deskmail.db"

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process's lock (default 1s).
	LockTimeout time.Duration
	// ReadOnly opens the file with a shared lock for offline readers.
	ReadOnly bool
	// MaxBatch caps how many write functions share one transaction.
	MaxBatch int
	// Observe, if set, is told the duration and size of every commit.
	Observe func(d time.Duration, batch int, err error)
	// NoMigrate makes OpenPostgres fail on a schema older than this
	// binary's instead of migrating it (read-only CLI commands).
	NoMigrate bool
	// Committers is how many write transactions one node runs at once on
	// PostgreSQL, each on a connection of its own (default 4). bbolt has
	// one writer and always uses one.
	Committers int
	// Direct is a URL of the same PostgreSQL database that bypasses a
	// transaction-mode pooler (PgBouncer) which the store's own URL goes
	// through: the bus's LISTEN connection and migrations use it.
	Direct string
	// NoLog commits bbolt directly, two fsyncs per batch, without the
	// write-ahead log (see walbackend.go). The log is on by default.
	NoLog bool
	// LogSize is the size each of the two log files grows to
	// (default DefaultLogSize, at least 1 MiB): a checkpoint starts when
	// the active file holds half of it.
	LogSize int64
	// CheckpointInterval starts a checkpoint once the oldest record not
	// checkpointed is this old (default DefaultCheckpointInterval).
	CheckpointInterval time.Duration
	// logHooks are tests' seams into the log (nil outside tests).
	logHooks *logHooks
	// fillAfter is the fill gates' timer (time.After outside tests).
	fillAfter func(time.Duration) <-chan time.Time
	// mmapSize is bbolt's initial map for tests that open stores many
	// times (0: 64 MiB). Under the race detector each open's 64 MiB map
	// costs some 14,000 page faults, most of TestLogMatchesModel's time.
	mmapSize int
	// Listen: the caller will Subscribe (a daemon). OpenPostgres then
	// refuses a store URL that goes through a transaction-mode pooler
	// when Direct is not set, rather than start deaf to the other nodes.
	Listen bool
}

// backend is one kind of storage under DB: bbolt or PostgreSQL.
type backend interface {
	// begin starts a transaction; reads are keys its functions will Get
	// (a backend may fetch them at once), locks what they declared.
	begin(ctx context.Context, writable bool, reads []readKey, locks *lockSet) (txOps, error)
	size() int64
	close() error
	// retryable tells whether a failed transaction may simply be run
	// again (a serialization failure or deadlock the database reports).
	retryable(err error) bool
}

// DB is an open store.
type DB struct {
	dir     string
	be      backend
	pg      *pgBackend // nil for bbolt
	opts    Options
	reqs    chan *request // writes someone is waiting for
	bgReqs  chan *request // background writes
	ordReqs chan *request // PostgreSQL: foreground writes that declare no locks
	stop    chan struct{}
	done    chan struct{}
	closeMu sync.RWMutex
	closed  bool
}

type request struct {
	fn   func(*Tx) error
	done chan error
	// background: nobody waits on a socket for it (see Background).
	background bool
	// reads are keys fn will Get (see Reads).
	reads []readKey
	// answered: the function failed and was told so while the rest of
	// its batch went on (its writes undone inside the transaction).
	answered bool
	// keyed: fn declared what it serialises on (Locks); on PostgreSQL a
	// batch of keyed functions runs beside other nodes' batches instead
	// of taking the cluster's writer lock alone.
	keyed    bool
	locks    []string
	shared   []string
	barriers []string
	// queued, if set, is called once the request is in the queue.
	queued func()
	// rerun: fn asked for locks it had not declared (Tx.Need); its
	// writes were undone and it runs again once its batch is done, with
	// them added. reruns counts how often that happened.
	rerun  bool
	reruns int
}

// maxNeedReruns bounds the reruns of one write for locks it had not
// declared (Tx.Need): past it the write runs with the writer lock alone,
// where Need asks nothing. What a write touches can change between runs
// (a conversation's followers), so the names it learns might not settle.
const maxNeedReruns = 3

// needMore adds the names fn missed to what it declares, for its rerun.
func (r *request) needMore(names []string) {
	r.rerun = true
	r.reruns++
	if r.reruns > maxNeedReruns {
		r.keyed = false
		return
	}
	r.locks = append(r.locks, names...)
}

// Open opens (creating if needed) the bbolt database in dir.
func Open(dir string, opts Options) (*DB, error) {
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	if !opts.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create data folder: %w", err)
		}
	}
	path := filepath.Join(dir, DBFile)
	if opts.ReadOnly {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  opts.LockTimeout,
		ReadOnly: opts.ReadOnly,
		// The map freelist keeps commits fast when the free list is large
		// (after pruning); NoFreelistSync skips writing the freelist on
		// every commit and rebuilds it on open. Data pages are still
		// fsynced on every commit: NoSync is never set.
		FreelistType:    bolt.FreelistMapType,
		NoFreelistSync:  true,
		InitialMmapSize: cmp.Or(opts.mmapSize, 64<<20),
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if opts.NoLog {
		return start(dir, &boltBackend{db: b}, nil, opts), nil
	}
	w, err := openWAL(b, dir, opts)
	if err != nil {
		b.Close()
		return nil, err
	}
	return start(dir, w, nil, opts), nil
}

// start makes the DB and, unless read-only, its committer.
func start(dir string, be backend, pg *pgBackend, opts Options) *DB {
	if opts.MaxBatch == 0 {
		opts.MaxBatch = 1024
	}
	db := &DB{dir: dir, be: be, pg: pg, opts: opts,
		reqs: make(chan *request, opts.MaxBatch), bgReqs: make(chan *request, opts.MaxBatch),
		stop: make(chan struct{}), done: make(chan struct{})}
	if opts.ReadOnly {
		close(db.done)
		return db
	}
	var wg sync.WaitGroup
	loop := func(fg, bg chan *request, g *fillGate) {
		wg.Add(1)
		go func() { defer wg.Done(); db.commitLoop(fg, bg, g) }()
	}
	if pg == nil {
		loop(db.reqs, db.bgReqs, nil)
	} else {
		db.ordReqs = make(chan *request, opts.MaxBatch)
		loop(db.ordReqs, nil, nil)
		bgGate, fgGate := newFillGate(bgFillTarget, opts.fillAfter), newFillGate(fgFillTarget, opts.fillAfter)
		for range backgroundCommitters {
			loop(nil, db.bgReqs, bgGate)
		}
		for range pg.committers {
			loop(db.reqs, nil, fgGate)
		}
	}
	go func() { wg.Wait(); close(db.done) }()
	return db
}

// Dir is the data folder: the whole store with bbolt, the node's own
// files (control socket, capture folder) with PostgreSQL.
func (db *DB) Dir() string { return db.dir }

// Size is the size of the database in bytes.
func (db *DB) Size() int64 { return db.be.size() }

// Close waits for pending writes and closes the store.
func (db *DB) Close() error {
	db.closeMu.Lock()
	if db.closed {
		db.closeMu.Unlock()
		return nil
	}
	db.closed = true
	db.closeMu.Unlock()
	if !db.opts.ReadOnly {
		close(db.stop)
		<-db.done
	}
	return db.be.close()
}

// Update runs fn in a read-write transaction that is committed and fsynced
// before Update returns nil. fn may share its transaction with other
// callers' functions: it must not call Update itself, and it may run more
// than once (with bbolt, when another function in the same batch fails,
// the batch is rolled back and the others are run again; on PostgreSQL when
// the database reports a serialization failure or a lost connection ends a
// batch), so it must only touch the transaction. An error from fn rolls
// back fn's writes only.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error, opts ...UpdateOption) error {
	db.closeMu.RLock()
	if db.closed || db.opts.ReadOnly {
		db.closeMu.RUnlock()
		return ErrClosed
	}
	r := &request{fn: fn, done: make(chan error, 1)}
	for _, o := range opts {
		o(r)
	}
	q := db.reqs
	switch {
	case r.background:
		q = db.bgReqs
	case db.ordReqs != nil && !r.keyed:
		q = db.ordReqs
	}
	select {
	case q <- r:
	case <-ctx.Done():
		db.closeMu.RUnlock()
		return ctx.Err()
	}
	db.closeMu.RUnlock()
	if r.queued != nil {
		r.queued()
	}
	// Once queued the request is always answered, even during Close: the
	// caller must learn whether its write is durable.
	return <-r.done
}

// UpdateOption tunes one Update.
type UpdateOption func(*request)

// Background marks a write that no client is waiting on (the pipeline's
// claims and commits, as against a message being answered 250 or an HTTP
// request). On PostgreSQL a batch of foreground writes takes no
// background one, and batches of background writes (at most 16) run on
// committers of their own (backgroundCommitters per node, side by side,
// in no order among themselves), so a client's wait for its commit does
// not grow with the backlog of work behind it: a commit of the pipeline
// does several reads, each a round trip, and holds the locks of a
// conversation; an accept neither. A caller that needs one background
// write after another waits for the first's Update to return.
// With bbolt, where a function costs microseconds beside the fsync, a
// batch takes every foreground write and background writes uncapped.
func Background() UpdateOption { return func(r *request) { r.background = true } }

// Queued has fn called once the write is in the committer's queue
// (before its commit). Writes of one kind (foreground or background) are
// run in the order they were queued, so a caller that needs an order among
// concurrent writes (their Sequence values, what a later one reads) starts
// the next Update after this call, and still shares the fsync with it. On
// PostgreSQL that holds for foreground writes that declare no locks;
// foreground writes that declare locks (Locks) and background writes run
// on several committers side by side, in no order among themselves.
func Queued(fn func()) UpdateOption { return func(r *request) { r.queued = fn } }

// maxBackgroundPG caps a PostgreSQL batch of background writes: such a
// batch holds the locks of the pipeline's commits in it.
const maxBackgroundPG = 16

// backgroundCommitters is how many batches of background writes one node
// runs at once on PostgreSQL. With the pipeline's commits keyed by
// conversation (no lock that all of them share), two batches overlap
// their round trips; commits of one conversation still take turns on its
// lock, and the pipeline commits one conversation's emails one after
// another (each waits for the earlier one's Update to return).
const backgroundCommitters = 2

// Reads names keys of bucket that fn will Get. On PostgreSQL the keys of
// every function in a batch are fetched together, in the round trip that
// begins the transaction, instead of one round trip per Get; a Get of a
// key not named still works. With bbolt, whose reads cost no round trip,
// it does nothing.
func Reads(bucket string, keys ...[]byte) UpdateOption {
	return func(r *request) {
		for _, k := range keys {
			r.reads = append(r.reads, readKey{bucket: bucket, key: k})
		}
	}
}

// ReadsLast tells that fn will ask bucket's LastKey; on PostgreSQL the
// answer comes with the transaction's first round trip.
func ReadsLast(bucket string) UpdateOption {
	return func(r *request) { r.reads = append(r.reads, readKey{bucket: bucket, kind: readLast}) }
}

// Draws tells that fn will take n values of bucket's Sequence; on
// PostgreSQL the values of the whole batch are drawn with the
// transaction's first round trip.
func Draws(bucket string, n int) UpdateOption {
	return func(r *request) {
		for range n {
			r.reads = append(r.reads, readKey{bucket: bucket, kind: readSeq})
		}
	}
}

// ReadsRange names keys of bucket from from (included; nil: the first)
// to to (excluded; nil: to the bucket's end) that fn will scan (Tx.Scan
// or Tx.ScanRange from a key inside them). On PostgreSQL their rows are
// fetched with the transaction's first round trip, after its locks, and
// the scan is answered from memory, with the transaction's own writes (a
// range of more than rangeLimit rows is known up to its rangeLimit-th
// row, and read on from there). With bbolt it does nothing.
func ReadsRange(bucket string, from, to []byte) UpdateOption {
	return func(r *request) {
		r.reads = append(r.reads, readKey{bucket: bucket, key: from, end: to, kind: readRange})
	}
}

// Locks declares what fn must be serialised on against every other
// writer of every node: the names of the locks it needs (a dedupe key, an
// email's id, a job's id, one person's notifications of one
// conversation). On PostgreSQL a batch whose functions all declare their
// locks takes the cluster's writer lock in shared mode and each named
// lock exclusively (advisory locks, in one sorted order, in the round trip
// that begins the transaction, before anything is read), so it runs beside
// other batches of this node and of other nodes and waits only for those
// that hold one of its names; a batch with a function that declares
// nothing takes the writer lock exclusively and runs alone, as every write
// did before. Locks() with no name is a write that needs no lock of its
// own (it only adds rows under fresh unique keys). fn may take more locks
// as it learns what it touches (Tx.Lock, Tx.TryLock). With bbolt, one
// writer, it changes nothing.
//
// A function that declares its locks promises that every key it reads and
// then writes is covered by one of them (or by a lock it takes with
// Tx.Lock before reading the key), and that every other writer of those
// keys either takes the same lock or declares nothing.
func Locks(names ...string) UpdateOption {
	return func(r *request) {
		r.keyed = true
		r.locks = append(r.locks, names...)
	}
}

// SharedLocks declares, like Locks, locks fn needs, but in shared mode:
// any number of transactions hold a shared lock together, and they keep
// out a transaction that takes the same name with Locks (exclusive). A
// family of writes that all read the same data and change pieces of it
// under names of their own share a name that a writer of the whole takes
// exclusively (seen-acks of one conversation hold "conv:ID" shared, each
// with its own "seen:" name; the pipeline's commit of an email to the
// conversation holds "conv:ID" alone). Names without a colon ("family"
// names) are taken before all others; the rest in one sorted order.
func SharedLocks(names ...string) UpdateOption {
	return func(r *request) {
		r.keyed = true
		r.shared = append(r.shared, names...)
	}
}

// Barriers makes the transaction wait, once its locks are held, until
// every transaction that holds one of names (shared, with SharedLocks)
// when it asks has ended, without keeping the names itself: a writer that
// must see what those transactions write waits for them, and the next
// ones do not wait for it. (The pipeline's commit waits for the accepts of
// its ordering keys still in flight.) It declares no lock by itself.
func Barriers(names ...string) UpdateOption {
	return func(r *request) { r.barriers = append(r.barriers, names...) }
}

// Key names one key of one bucket (for Tx.Lock and Tx.TryLock).
type Key struct {
	Bucket string
	Key    []byte
}

// readKey is one read named by Reads, ReadsLast, Draws or ReadsRange.
type readKey struct {
	bucket string
	key    []byte
	end    []byte // readRange: the end (excluded; nil: the bucket's end)
	kind   readKind
}

type readKind uint8

const (
	readGet   readKind = iota // the value of key
	readLast                  // the bucket's last key
	readSeq                   // one value of the bucket's sequence
	readRange                 // the keys from key to end
)

// lockSet is what a batch's functions declared with Locks: keyed is true
// when every one of them did.
type lockSet struct {
	keyed    bool
	names    []string // exclusive
	shared   []string
	barriers []string
}

// viewTimeout bounds one read transaction on PostgreSQL.
const viewTimeout = 2 * time.Minute

// View runs fn in a read-only transaction (a consistent snapshot); ctx
// bounds the wait for it (with viewTimeout at most), so a request that
// ends or a shutdown stops waiting on a store that does not answer.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	ctx, cancel := context.WithTimeout(ctx, viewTimeout)
	defer cancel()
	ops, err := db.be.begin(ctx, false, nil, nil)
	if err != nil {
		return err
	}
	defer ops.rollback()
	err = fn(&Tx{ops: ops})
	if ferr := ops.failed(); ferr != nil {
		return ferr
	}
	return err
}

// commitLoop is one committer: it takes writes from fg and bg (either
// may be nil) and commits them in batches, in the order they were queued.
// bbolt has one committer on both queues. PostgreSQL has one for the
// foreground writes that declare no locks (ordReqs: they run alone
// anyway, and in the order queued), backgroundCommitters for background
// writes (bgReqs: batches of up to maxBackgroundPG, so the pipeline's
// commits gather into few transactions),
// and Options.Committers for foreground writes that declare their locks
// (reqs, side by side). The committers of one queue share a fillGate
// (g; nil for a queue with one committer), which decides when a batch
// that has begun to gather is sent.
func (db *DB) commitLoop(fg, bg chan *request, g *fillGate) {
	batch := make([]*request, 0, db.opts.MaxBatch)
	var tick <-chan time.Time
	ticker, _ := db.be.(interface{ tick() })
	if ticker != nil {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
	}
	for {
		// One committer of the queue at a time waits for its next
		// write and gathers (g.take); the others wait for their turn.
		if !g.take(db.stop) {
			db.drain(batch, fg, bg)
			return
		}
		var first *request
		select {
		case <-tick:
			ticker.tick()
			g.give()
			continue
		case first = <-fg:
		case first = <-bg:
		case <-db.stop:
			g.give()
			db.drain(batch, fg, bg)
			return
		}
		batch = db.gather(append(batch[:0], first), fg, bg)
		batch = g.fill(db, batch, fg, bg)
		start := g.begin()
		db.commit(batch)
		g.end(start)
	}
}

// drain commits what was queued before Close took the lock, in batches
// as usual.
func (db *DB) drain(batch []*request, fg, bg chan *request) {
	for {
		var r *request
		select {
		case r = <-fg:
		case r = <-bg:
		default:
			return
		}
		db.commit(db.gather(append(batch[:0], r), fg, bg))
	}
}

// fillGate makes the committers of one PostgreSQL queue fill their
// batches when the node's writes are few beside its committers. Group
// commit fills a batch with the writes that queued while the previous
// ones committed; with several committers a write that finds one free
// goes alone, so a node whose sessions are few beside its committers
// (two nodes on one database: each has half the sessions and as many
// committers) commits one write per transaction, each with its own
// round trips, statements, commit record and WAL flush. With the gate
// a batch smaller than target waits, while another batch of the queue is
// in flight, for more writes, and goes as soon as it has target writes,
// a batch in flight ends (whatever it holds then), or twice the queue's
// recent commit time has passed (fillBound: a batch in flight that waits
// on a lock, another node's accept of the same email, does not hold the
// next writes back for longer than a commit takes). A write that finds
// nothing in flight goes at once. One committer at a time gathers (the
// others wait for their turn), so two small batches never wait side by
// side for the same writes. A gathering batch holds no lock and no
// connection: nothing in flight waits for it.
type fillGate struct {
	turn   chan struct{} // holds a token while no committer gathers
	target int
	after  func(time.Duration) <-chan time.Time
	mu     sync.Mutex
	flying int           // batches of the queue in flight
	ended  chan struct{} // closed (and replaced) when one ends
	recent time.Duration // moving average of the queue's commit times
}

// fgFillTarget and bgFillTarget are the batch sizes that go without
// waiting while another batch of their queue is in flight: the accepts'
// (keyed foreground writes) and the pipeline's (background writes, at
// most maxBackgroundPG a batch). Measured on two nodes end to end
// (docs/PERFORMANCE.md, branch twonode5): 2 and 2, 2 and 4, 3 and 4 cut
// the transactions per email from 2.5 to 2.1, 2.0, 1.9-2.0.
const fgFillTarget, bgFillTarget = 3, 4

// fillBound bounds a batch's wait to fill: twice the queue's recent
// commit time, within [fillBoundMin, fillBoundMax]; fillBoundStart
// before the first commit.
const (
	fillBoundMin   = time.Millisecond
	fillBoundMax   = 100 * time.Millisecond
	fillBoundStart = 10 * time.Millisecond
)

func newFillGate(target int, after func(time.Duration) <-chan time.Time) *fillGate {
	if after == nil {
		after = time.After
	}
	g := &fillGate{turn: make(chan struct{}, 1), target: target, after: after, ended: make(chan struct{}), recent: fillBoundStart / 2}
	g.turn <- struct{}{}
	return g
}

// take waits for the committer's turn to gather; false when stop came
// first. A nil gate (one committer) has its turn always.
func (g *fillGate) take(stop chan struct{}) bool {
	if g == nil {
		return true
	}
	select {
	case <-g.turn:
		return true
	case <-stop:
		return false
	}
}

// give hands the turn to gather to the next committer.
func (g *fillGate) give() {
	if g != nil {
		g.turn <- struct{}{}
	}
}

// fill waits, while batch is smaller than the target and another batch
// is in flight, for more writes (taking every one queued behind each),
// for a batch in flight to end, or for the bound.
func (g *fillGate) fill(db *DB, batch []*request, fg, bg chan *request) []*request {
	if g == nil {
		return batch
	}
	var bound <-chan time.Time
	for len(batch) < g.target && len(batch) < db.opts.MaxBatch {
		g.mu.Lock()
		flying, ended, wait := g.flying, g.ended, min(max(2*g.recent, fillBoundMin), fillBoundMax)
		g.mu.Unlock()
		if flying == 0 {
			return batch
		}
		if bound == nil {
			bound = g.after(wait)
		}
		select {
		case r := <-fg:
			batch = db.gather(append(batch, r), fg, bg)
		case r := <-bg:
			batch = db.gather(append(batch, r), fg, bg)
		case <-ended:
			return batch
		case <-bound:
			return batch
		case <-db.stop:
			return batch
		}
	}
	return batch
}

// begin counts the gathered batch in flight and gives the turn to gather
// to the next committer.
func (g *fillGate) begin() time.Time {
	if g == nil {
		return time.Time{}
	}
	g.mu.Lock()
	g.flying++
	g.mu.Unlock()
	g.give()
	return time.Now()
}

// end counts a batch out of flight, adds its time to the average, and
// wakes a batch waiting to fill.
func (g *fillGate) end(start time.Time) {
	if g == nil {
		return
	}
	d := time.Since(start)
	g.mu.Lock()
	g.flying--
	g.recent += (d - g.recent) / 8
	close(g.ended)
	g.ended = make(chan struct{})
	g.mu.Unlock()
}

// gather fills a batch: every waiting foreground write first, then
// background writes. On PostgreSQL, where several committers run, each
// committer reads one of the two queues (start passes nil for the other:
// a receive from a nil channel never happens), so foreground and
// background writes never share a batch: a client's write does not wait
// for the locks of background work (the pipeline's commit holds its
// conversation's) nor for its round trips; a background batch carries at
// most maxBackgroundPG writes. bbolt's one committer reads both,
// background writes uncapped: a bbolt function costs microseconds beside
// the batch's fsync, and capping them would only slow the pipeline.
func (db *DB) gather(batch []*request, fgq, bgq chan *request) []*request {
	bg := 0
	for _, r := range batch {
		if r.background {
			bg++
		}
	}
fore:
	for len(batch) < db.opts.MaxBatch {
		select {
		case r := <-fgq:
			batch = append(batch, r)
		default:
			break fore
		}
	}
	limit := db.opts.MaxBatch
	if db.pg != nil {
		limit = maxBackgroundPG
	}
	for len(batch) < db.opts.MaxBatch && bg < limit {
		select {
		case r := <-bgq:
			batch = append(batch, r)
			bg++
		default:
			return batch
		}
	}
	return batch
}

// commitTimeout bounds one batch's transaction on PostgreSQL, so a lost
// database answers the waiting writers with an error instead of hanging.
const commitTimeout = 15 * time.Second

// maxRetries bounds the reruns of a batch after serialization failures.
const maxRetries = 20

// commit runs the batch in one transaction. A function that fails is
// answered with its error; its writes are undone inside the transaction
// where the backend can (PostgreSQL), or else the rest are run again
// without it. A
// serialization failure (PostgreSQL, another node wrote what this batch
// read) reruns the whole batch, here and nowhere else.
func (db *DB) commit(batch []*request) {
	for len(batch) > 0 {
		batch = db.commitOnce(batch)
		// Functions that asked for locks they had not declared (Tx.Need)
		// run again, with them, in a transaction of their own.
		var again []*request
		for _, r := range batch {
			if r.rerun {
				r.rerun, r.answered = false, false
				again = append(again, r)
			}
		}
		batch = again
	}
}

// commitOnce commits the batch; it returns the requests that were in it
// at the end (a function that failed is taken out and answered).
func (db *DB) commitOnce(batch []*request) []*request {
	retries, advanced := 0, false
	for len(batch) > 0 {
		start := time.Now()
		failed, fnErr, err := db.tryBatch(batch)
		if failed >= 0 {
			batch[failed].done <- fnErr
			batch = append(batch[:failed], batch[failed+1:]...)
			continue
		}
		if err != nil && db.be.retryable(err) && retries < maxRetries {
			retries++
			// A key drawn from a sequence behind its bucket's keys
			// (seqkeys.go): advance it, once, before the batch draws
			// again. Should it fail, the batch's reruns say so. Only
			// PostgreSQL's errors can say so.
			if !advanced && db.pg != nil {
				if seqs := takenSequences(err); len(seqs) > 0 {
					advanced = true
					ctx, cancel := context.WithTimeout(context.Background(), viewTimeout)
					_ = db.advanceSequences(ctx, seqs)
					cancel()
				}
			}
			time.Sleep(time.Duration(retries) * time.Duration(rand.IntN(2000)+200) * time.Microsecond)
			continue
		}
		n := 0
		for _, r := range batch {
			if !r.answered {
				n++
			}
		}
		// Observed before anyone is answered: a caller that returns from
		// Update sees its commit counted.
		if db.opts.Observe != nil && n > 0 {
			db.opts.Observe(time.Since(start), n, err)
		}
		for _, r := range batch {
			if !r.answered {
				r.done <- err
			}
		}
		return batch
	}
	return nil
}

// fnScoper is a transaction that can undo the writes of one function and
// go on with the others (PostgreSQL: the function's queued writes are
// dropped, or a savepoint is rolled back to). Without it a failing
// function makes the whole batch run again without it.
type fnScoper interface {
	beginFn()
	// endFn closes the function's scope; ok false undoes its writes and
	// reports whether that was possible.
	endFn(ok bool) bool
}

// tryBatch runs the batch once. failed is the index of a function that
// returned an error (fnErr), or -1; err is the transaction's own failure.
func (db *DB) tryBatch(batch []*request) (failed int, fnErr, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var reads []readKey
	lk := &lockSet{keyed: true}
	for _, r := range batch {
		if !r.answered {
			reads = append(reads, r.reads...)
			lk.keyed = lk.keyed && r.keyed
			lk.names = append(lk.names, r.locks...)
			lk.shared = append(lk.shared, r.shared...)
			lk.barriers = append(lk.barriers, r.barriers...)
		}
	}
	ops, err := db.be.begin(ctx, true, reads, lk)
	if err != nil {
		return -1, nil, err
	}
	tx := &Tx{ops: ops}
	scoper, _ := ops.(fnScoper)
	for i, r := range batch {
		if r.answered {
			continue
		}
		if scoper != nil {
			scoper.beginFn()
		}
		notes := len(tx.notes)
		tx.missing = tx.missing[:0]
		err := run(r.fn, tx)
		var need *NeedLocks
		if len(tx.missing) > 0 {
			// Whatever it returned, it may have decided on stale reads.
			need = &NeedLocks{Names: slices.Clone(tx.missing)}
			err = need
		}
		if scoper != nil {
			if scoper.endFn(err == nil) && err != nil && ops.failed() == nil {
				tx.notes = tx.notes[:notes]
				r.answered = true
				if need != nil {
					r.needMore(need.Names)
				} else {
					r.done <- err
				}
				continue
			}
		}
		if err != nil {
			ops.rollback()
			// A function that failed because the transaction did (a
			// lost connection) is not to blame: the batch fails.
			if ferr := ops.failed(); ferr != nil {
				return -1, nil, ferr
			}
			return i, err, nil
		}
	}
	if pub, ok := ops.(interface{ publish([]note) }); ok && len(tx.notes) > 0 {
		pub.publish(tx.notes)
	}
	if err := ops.commit(); err != nil {
		ops.rollback()
		return -1, nil, err
	}
	return -1, nil, nil
}

func run(fn func(*Tx) error, tx *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write function panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return fn(tx)
}

// Compact copies the database in dir into a fresh file, dropping free
// pages, and replaces the old file. The daemon must be stopped.
func Compact(dir string) (before, after int64, err error) {
	path := filepath.Join(dir, DBFile)
	// What the log holds goes into the file first (Close checkpoints).
	if _, err := os.Stat(path); err == nil {
		db, err := Open(dir, Options{LockTimeout: time.Second})
		if errors.Is(err, ErrLocked) {
			return 0, 0, fmt.Errorf("open %s: %w (stop the daemon first)", path, ErrLocked)
		}
		if err != nil {
			return 0, 0, err
		}
		if err := db.Close(); err != nil {
			return 0, 0, err
		}
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if errors.Is(err, berrors.ErrTimeout) {
		return 0, 0, fmt.Errorf("open %s: %w (stop the daemon first)", path, ErrLocked)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer src.Close()
	tmp := path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return 0, 0, fmt.Errorf("create %s: %w", tmp, err)
	}
	if err := bolt.Compact(dst, src, 64<<20); err != nil {
		dst.Close()
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("compact: %w", err)
	}
	if err := dst.Close(); err != nil {
		os.Remove(tmp)
		return 0, 0, fmt.Errorf("close compacted file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil {
		before = fi.Size()
	}
	if fi, err := os.Stat(tmp); err == nil {
		after = fi.Size()
	}
	// Holding the shared lock on src while renaming is fine on Unix: the
	// lock follows the open file, and nobody else can hold an exclusive one.
	if err := os.Rename(tmp, path); err != nil {
		return 0, 0, fmt.Errorf("replace database: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return 0, 0, err
	}
	return before, after, nil
}
