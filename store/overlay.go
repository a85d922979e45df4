package store

import (
	"bytes"
	"errors"
	"maps"

	"github.com/google/btree"
	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// A layer is what the log holds and bbolt does not yet: per bucket the
// last write of each key (a value or a deletion) and the sequence. A
// published layer is never changed again: a batch writes into a copy
// (btree.Clone is lazy, copy on write), so readers use it without locks.
type layer struct {
	b map[string]*bucketLayer
}

type bucketLayer struct {
	t       *btree.BTreeG[entry]
	seq     uint64
	hasSeq  bool
	created bool // a put or a sequence: the bucket exists
}

// entry is one key's last write in a layer's tree: kv is the key, then
// the value (n is the key's length); a deletion holds the key alone.
// One slice, not a key's and a value's: 32 bytes and one pointer where
// two slices took 56 and two, and a batch's copy-on-write copies (and
// the collector scans) every entry of each node on its puts' paths.
type entry struct {
	kv  []byte
	n   uint32
	del bool
}

func (e entry) key() []byte   { return e.kv[:e.n:e.n] }
func (e entry) value() []byte { return e.kv[e.n:] }

// probe is the entry a tree is searched with for key.
func probe(key []byte) entry { return entry{kv: key, n: uint32(len(key))} }

func entryLess(a, b entry) bool { return bytes.Compare(a.kv[:a.n], b.kv[:b.n]) < 0 }

// item is an entry of a merged scan, from a tree or from bbolt (whose
// key and value are not one slice).
type item struct {
	k, v []byte
	del  bool
}

func (e entry) item() item {
	if e.del {
		return item{k: e.key(), del: true}
	}
	return item{k: e.key(), v: e.value()}
}

// layerDegree is the B-trees' degree: up to 31 entries a node (32 at
// 32: each put's path copies a node of up to 63 entries per batch,
// 75 KB for the 8 puts of BenchmarkLayerBatch against 31 KB).
const layerDegree = 16

func newLayer() *layer { return &layer{b: map[string]*bucketLayer{}} }

func (l *layer) empty() bool { return l == nil || len(l.b) == 0 }

// writable is a private copy of l for one batch.
func (l *layer) writable() *layer { return &layer{b: maps.Clone(l.b)} }

// detach copies the layer's keys and values into arenas of its own, so
// it no longer pins the buffers they were decoded from (a read-only
// store's replayed log).
func (l *layer) detach() {
	var arena []byte
	for _, bl := range l.b {
		t := btree.NewG(layerDegree, entryLess)
		bl.t.Ascend(func(e entry) bool {
			e.kv = hold(&arena, e.kv)
			t.ReplaceOrInsert(e)
			return true
		})
		bl.t = t
	}
}

// mut is l's bucket, made private to l first if own does not list it.
func (l *layer) mut(bucket string, own map[string]bool) *bucketLayer {
	bl := l.b[bucket]
	if own != nil && own[bucket] && bl != nil {
		return bl
	}
	nb := &bucketLayer{}
	if bl != nil {
		*nb = *bl
		nb.t = bl.t.Clone()
	} else {
		nb.t = btree.NewG(layerDegree, entryLess)
	}
	l.b[bucket] = nb
	if own != nil {
		own[bucket] = true
	}
	return nb
}

// apply makes one decoded write in l (replay, and the batch's own writes
// through walTx). own tells which buckets of l are already private. A
// put's key and value are copied into arena, one slice (entry): the
// record's are apart.
func (l *layer) apply(o logOp, own map[string]bool, arena *[]byte) {
	switch o.op {
	case opPut:
		l.put(o.bucket, hold(arena, o.key, o.value), len(o.key), own)
	case opDelete:
		l.tombstone(o.bucket, o.key, own)
	case opSequence:
		bl := l.mut(o.bucket, own)
		bl.created = true
		bl.seq, bl.hasSeq = o.n, true
	}
}

// put writes a value: kv is the key (its first n bytes), then the value;
// l keeps kv.
func (l *layer) put(bucket string, kv []byte, n int, own map[string]bool) {
	bl := l.mut(bucket, own)
	bl.created = true
	bl.t.ReplaceOrInsert(entry{kv: kv, n: uint32(n)})
}

// tombstone writes a deletion of key; l keeps key.
func (l *layer) tombstone(bucket string, key []byte, own map[string]bool) {
	l.mut(bucket, own).t.ReplaceOrInsert(entry{kv: key, n: uint32(len(key)), del: true})
}

// walTx is a transaction of the logged bbolt store: reads see the
// batch's own writes, then the active layer, then the layer being
// checkpointed, then a bbolt read transaction; writes go to the batch's
// copy of the active layer and to the record the commit logs.
type walTx struct {
	w      *walBackend
	btx    *bolt.Tx
	layers [2]*layer // top (the batch's copy, or the active layer), frozen (or nil)
	write  bool
	own    map[string]bool
	rec    []byte // the log record: recHeader bytes, then the writes (record)
	done   bool
	// arena holds the layer's copies of the batch's keys and values.
	arena []byte
	// bolts are the bbolt buckets the transaction opened (a read-only
	// bbolt transaction caches none: each Bucket call seeks the root and
	// opens the bucket again, copying its header if it is unaligned).
	bolts    []boltRef
	boltsArr [8]boltRef
	spare    *[3]source // a merge's sources, for the next (see merge)
}

type boltRef struct {
	name string
	b    *bolt.Bucket // nil: not in the bbolt snapshot
}

// Arena chunks double from minArena to maxArena; a piece larger than
// half the chunk gets an allocation of its own.
const (
	minArena = 512
	maxArena = 64 << 10
)

// hold copies the pieces into one slice of the transaction's arena. The
// layer keeps these copies, not slices of the record: the record's
// buffer is reallocated as it grows, and each old buffer stayed pinned
// by the entries that pointed into it (a layer held about 4.4 times the
// bytes it logged, 130 MiB for 30 MiB of 200-byte puts).
func (t *walTx) hold(pieces ...[]byte) []byte { return hold(&t.arena, pieces...) }

// hold is walTx.hold on an arena of its own (a detached layer's).
func hold(arena *[]byte, pieces ...[]byte) []byte {
	n := 0
	for _, p := range pieces {
		n += len(p)
	}
	a := *arena
	var out []byte
	if c := cap(a); n > max(c, minArena)/2 {
		out = make([]byte, 0, n)
	} else {
		if c-len(a) < n {
			a = make([]byte, 0, min(max(2*c, minArena), maxArena))
		}
		out = a[len(a) : len(a) : len(a)+n]
		*arena = a[:len(a)+n]
	}
	for _, p := range pieces {
		out = append(out, p...)
	}
	return out
}

// record is the transaction's log record so far: its writes, after
// recHeader bytes that walBackend.append fills in (sealRecord).
func (t *walTx) record() []byte {
	if t.rec == nil {
		// The writer's buffer of the previous batch (its record is
		// written; nothing points into it).
		t.rec, t.w.rec = t.w.rec, nil
		if t.rec == nil {
			t.rec = make([]byte, 0, 4096)
		}
		t.rec = t.rec[:recHeader]
	}
	return t.rec
}

// maxKeptRecord bounds the record buffer a writer keeps for the next
// batch.
const maxKeptRecord = 1 << 20

// release ends a write transaction: its record buffer goes back to the
// writer, and the writer lock is released.
func (t *walTx) release() {
	if t.rec != nil && cap(t.rec) <= maxKeptRecord {
		t.w.rec = t.rec[:0]
	}
	t.rec = nil
	t.w.writer.Unlock()
}

func (t *walTx) writable() bool { return t.write }
func (t *walTx) failed() error  { return nil }

func (t *walTx) rollback() {
	if !t.done {
		t.done = true
		_ = t.btx.Rollback()
		if t.write {
			t.release()
		}
	}
}

func (t *walTx) commit() error {
	if t.done {
		return berrors.ErrTxClosed
	}
	_ = t.btx.Rollback()
	var err error
	if len(t.rec) > 0 {
		err = t.w.append(t.rec, t.layers[0])
	}
	// With nothing written, whatever the functions read was durable
	// already (a layer is published only once its record is synced).
	t.done = true
	t.release()
	return err
}

func (t *walTx) boltBucket(bucket string) *bolt.Bucket {
	for _, r := range t.bolts {
		if r.name == bucket {
			return r.b
		}
	}
	if t.bolts == nil {
		t.bolts = t.boltsArr[:0]
	}
	b := t.btx.Bucket([]byte(bucket))
	t.bolts = append(t.bolts, boltRef{name: bucket, b: b})
	return b
}

func (t *walTx) get(bucket string, key []byte) []byte {
	for _, l := range t.layers {
		if l == nil {
			continue
		}
		if bl := l.b[bucket]; bl != nil {
			if e, ok := bl.t.Get(probe(key)); ok {
				if e.del {
					return nil
				}
				return e.value()
			}
		}
	}
	if b := t.boltBucket(bucket); b != nil {
		return b.Get(key)
	}
	return nil
}

// checkPut refuses what bbolt's Put would, so that a checkpoint never
// meets a write it cannot make.
func checkPut(bucket string, key, value []byte) error {
	switch {
	case bucket == "":
		return berrors.ErrBucketNameRequired
	case len(key) == 0:
		return berrors.ErrKeyRequired
	case len(key) > bolt.MaxKeySize:
		return berrors.ErrKeyTooLarge
	case int64(len(value)) > bolt.MaxValueSize:
		return berrors.ErrValueTooLarge
	}
	return nil
}

func (t *walTx) put(bucket string, key, value []byte) error {
	if !t.write {
		return berrors.ErrTxNotWritable
	}
	if err := checkPut(bucket, key, value); err != nil {
		return err
	}
	t.rec = appendPut(t.record(), bucket, key, value)
	t.layers[0].put(bucket, t.hold(key, value), len(key), t.own)
	return nil
}

func (t *walTx) del(bucket string, key []byte) error {
	if !t.write {
		return berrors.ErrTxNotWritable
	}
	present, below := t.locate(bucket, key)
	if !present {
		return nil // bbolt's Delete of a missing key or bucket does nothing
	}
	t.rec = appendDelete(t.record(), bucket, key)
	if !below {
		// Written since the last checkpoint and nowhere under the active
		// layer: the entry goes, no tombstone stays (a key added and
		// deleted between two checkpoints, as an email's entries in the
		// order index, would otherwise be skipped by every scan of its
		// range until the checkpoint).
		t.layers[0].mut(bucket, t.own).t.Delete(probe(key))
		return nil
	}
	t.layers[0].tombstone(bucket, t.hold(key), t.own)
	return nil
}

// locate tells whether key has a value (what get sees) and, when it
// has, whether the frozen layer or bbolt knows it (a deletion must then
// leave a tombstone): one lookup per source, where get and then a look
// below took two of the frozen layer and bbolt.
func (t *walTx) locate(bucket string, key []byte) (present, below bool) {
	if bl := t.layers[0].b[bucket]; bl != nil {
		if e, ok := bl.t.Get(probe(key)); ok {
			if e.del {
				return false, true
			}
			// In the active layer: does anything below know the key?
			if l := t.layers[1]; l != nil {
				if bl := l.b[bucket]; bl != nil {
					if _, ok := bl.t.Get(probe(key)); ok {
						return true, true
					}
				}
			}
			b := t.boltBucket(bucket)
			return true, b != nil && b.Get(key) != nil
		}
	}
	if l := t.layers[1]; l != nil {
		if bl := l.b[bucket]; bl != nil {
			if e, ok := bl.t.Get(probe(key)); ok {
				return !e.del, true
			}
		}
	}
	b := t.boltBucket(bucket)
	has := b != nil && b.Get(key) != nil
	return has, has
}

func (t *walTx) seqOf(bucket string) uint64 {
	for _, l := range t.layers {
		if l == nil {
			continue
		}
		if bl := l.b[bucket]; bl != nil && bl.hasSeq {
			return bl.seq
		}
	}
	if b := t.boltBucket(bucket); b != nil {
		return b.Sequence()
	}
	return 0
}

func (t *walTx) sequence(bucket string) (uint64, error) {
	n := t.seqOf(bucket) + 1
	return n, t.setSequence(bucket, n)
}

// setSequence sets bucket's sequence to n (db copy).
func (t *walTx) setSequence(bucket string, n uint64) error {
	if !t.write {
		return berrors.ErrTxNotWritable
	}
	if bucket == "" {
		return berrors.ErrBucketNameRequired
	}
	t.rec = appendSequence(t.record(), bucket, n)
	t.layers[0].apply(logOp{op: opSequence, bucket: bucket, n: n}, t.own, nil)
	return nil
}

func (t *walTx) lastKey(bucket string) []byte {
	var last []byte
	_ = t.scanReverse(bucket, nil, func(k, _ []byte) (bool, error) {
		last = bytes.Clone(k)
		return false, nil
	})
	return last
}

func (t *walTx) count(bucket string) int {
	n := 0
	b := t.boltBucket(bucket)
	if b != nil {
		n = b.Stats().KeyN
	}
	// Each key the layers know once (the upper layer's word wins): a
	// value bbolt lacks adds one, a deletion of a key bbolt has takes one.
	_ = t.merge(bucket, false, nil, nil, false, true, func(k, _ []byte, del bool) (bool, error) {
		inBolt := b != nil && b.Get(k) != nil
		switch {
		case del && inBolt:
			n--
		case !del && !inBolt:
			n++
		}
		return true, nil
	})
	return n
}

func (t *walTx) scan(bucket string, from, to []byte, fn func(k, v []byte) (bool, error)) error {
	return t.merge(bucket, false, from, to, true, false, func(k, v []byte, _ bool) (bool, error) { return fn(k, v) })
}

func (t *walTx) scanReverse(bucket string, before []byte, fn func(k, v []byte) (bool, error)) error {
	return t.merge(bucket, true, before, nil, true, false, func(k, v []byte, _ bool) (bool, error) { return fn(k, v) })
}

// buckets lists the buckets and their sequences (db copy).
func (t *walTx) buckets() (map[string]uint64, error) {
	out, err := (&boltTx{tx: t.btx}).buckets()
	delete(out, walBucket)
	for i := len(t.layers) - 1; i >= 0; i-- {
		l := t.layers[i]
		if l == nil {
			continue
		}
		for name, bl := range l.b {
			if _, ok := out[name]; !ok && bl.created {
				out[name] = 0
			}
			if bl.hasSeq {
				out[name] = bl.seq
			}
		}
	}
	return out, err
}

// treeCursor walks a layer's tree in chunks (a tree has no cursor of its
// own, only visits): from a key on, up to an end (forward) or below a key
// (reverse). The first chunk is small (most scans stop at their first
// keys: a Get through Snapshot, one sender's entries in the order index),
// the next ones double up to treeChunk.
type treeCursor struct {
	t       *btree.BTreeG[entry]
	reverse bool
	bound   []byte // forward: the end (excluded; nil: none); reverse: unused
	buf     []entry
	i       int
	last    []byte // the last key read into buf; nil before the first chunk
	pivot   []byte // the first chunk's start (forward: >=, reverse: <)
	started bool
	end     bool
	small   [firstChunk]entry // the first chunk
}

const (
	firstChunk = 8
	treeChunk  = 64
)

func (c *treeCursor) fill() {
	first := !c.started
	c.started = true
	var chunk int
	switch {
	case first:
		c.buf, chunk = c.small[:0], firstChunk
	case cap(c.buf) < treeChunk:
		chunk = min(2*len(c.buf), treeChunk)
		c.buf = make([]entry, 0, chunk)
	default:
		c.buf, chunk = c.buf[:0], treeChunk
	}
	c.i = 0
	if c.end {
		return
	}
	visit := func(e entry) bool {
		if !c.reverse && c.bound != nil && bytes.Compare(e.key(), c.bound) >= 0 {
			c.end = true
			return false
		}
		if first {
			if c.reverse && c.pivot != nil && bytes.Compare(e.key(), c.pivot) >= 0 {
				return true
			}
		} else if bytes.Equal(e.key(), c.last) {
			return true
		}
		c.buf = append(c.buf, e)
		return len(c.buf) < chunk
	}
	switch {
	case !c.reverse && first && c.pivot == nil:
		c.t.Ascend(visit)
	case !c.reverse && first:
		c.t.AscendGreaterOrEqual(probe(c.pivot), visit)
	case !c.reverse:
		c.t.AscendGreaterOrEqual(probe(c.last), visit)
	case first && c.pivot == nil:
		c.t.Descend(visit)
	case first:
		c.t.DescendLessOrEqual(probe(c.pivot), visit)
	default:
		c.t.DescendLessOrEqual(probe(c.last), visit)
	}
	if len(c.buf) < chunk {
		c.end = true
	}
	if len(c.buf) > 0 {
		c.last = c.buf[len(c.buf)-1].key()
	}
}

func (c *treeCursor) at() (item, bool) {
	if !c.started {
		c.fill()
	}
	if c.i < len(c.buf) {
		return c.buf[c.i].item(), true
	}
	return item{}, false
}

func (c *treeCursor) next() {
	c.i++
	if c.i >= len(c.buf) && !c.end {
		c.fill()
	}
}

// boltCursor walks a bbolt bucket.
type boltCursor struct {
	c       *bolt.Cursor
	reverse bool
	bound   []byte
	k, v    []byte
}

// seekBolt puts c on the first key >= from (forward; from nil: the
// first key) or the last key < from (reverse; from nil: the last key):
// boltTx's scans and the merged scans' bbolt source.
func seekBolt(c *bolt.Cursor, reverse bool, from []byte) (k, v []byte) {
	switch {
	case !reverse && from == nil:
		return c.First()
	case !reverse:
		return c.Seek(from)
	case from == nil:
		return c.Last()
	}
	k, v = c.Seek(from)
	if k == nil {
		k, v = c.Last()
	}
	for k != nil && bytes.Compare(k, from) >= 0 {
		k, v = c.Prev()
	}
	return k, v
}

func (c *boltCursor) at() (item, bool) {
	if c.k == nil || (!c.reverse && c.bound != nil && bytes.Compare(c.k, c.bound) >= 0) {
		return item{}, false
	}
	return item{k: c.k, v: c.v}, true
}

func (c *boltCursor) next() {
	if c.reverse {
		c.k, c.v = c.c.Prev()
	} else {
		c.k, c.v = c.c.Next()
	}
}

// source is one source of a merged scan: a layer's tree or bbolt (a
// struct, not an interface, so a merge's sources live on its stack).
type source struct {
	tree   treeCursor
	bolt   boltCursor
	isBolt bool
}

// at is the current entry (ok false at the end).
func (s *source) at() (item, bool) {
	if s.isBolt {
		return s.bolt.at()
	}
	return s.tree.at()
}

func (s *source) next() {
	if s.isBolt {
		s.bolt.next()
	} else {
		s.tree.next()
	}
}

// merge visits bucket's keys in order (forward: from from up to to;
// reverse: below from) as the layers over bbolt show them: for a key in
// more than one source the upper one's entry. With withBolt false it
// visits the layers' entries alone; with withDel it visits deletions too
// (count does both), which it skips otherwise.
func (t *walTx) merge(bucket string, reverse bool, from, to []byte, withBolt, withDel bool, fn func(k, v []byte, del bool) (bool, error)) error {
	// The sources escape (the trees' visits keep their cursor): the
	// transaction keeps one set for the next merge (a merge inside
	// another's fn takes a fresh one).
	srcs := t.spare
	if srcs == nil {
		srcs = new([3]source)
	} else {
		t.spare = nil
		*srcs = [3]source{}
	}
	defer func() { t.spare = srcs }()
	n := 0
	for _, l := range t.layers {
		if l == nil {
			continue
		}
		if bl := l.b[bucket]; bl != nil && bl.t.Len() > 0 {
			srcs[n].tree = treeCursor{t: bl.t, reverse: reverse, pivot: from, bound: to}
			n++
		}
	}
	if withBolt {
		if b := t.boltBucket(bucket); b != nil {
			c := b.Cursor()
			k, v := seekBolt(c, reverse, from)
			srcs[n].bolt = boltCursor{c: c, reverse: reverse, bound: to, k: k, v: v}
			srcs[n].isBolt = true
			n++
		}
	}
	for {
		best := -1
		var be item
		for i := range n {
			e, ok := srcs[i].at()
			if !ok {
				continue
			}
			if best < 0 {
				best, be = i, e
				continue
			}
			c := bytes.Compare(e.k, be.k)
			if reverse {
				c = -c
			}
			if c < 0 {
				best, be = i, e
			}
		}
		if best < 0 {
			return nil
		}
		// Move every source past the key; the first (upper) one that has
		// it is the one whose entry counts, and be is already the upper
		// one's (sources are in order and a later equal key does not win).
		k := be.k
		for i := range n {
			if e, ok := srcs[i].at(); ok && bytes.Equal(e.k, k) {
				if i != best {
					srcs[i].next()
				}
			}
		}
		if be.del && !withDel {
			srcs[best].next()
			continue
		}
		more, err := fn(k, be.v, be.del)
		srcs[best].next()
		if err != nil || !more {
			return err
		}
	}
}

var errLogFailed = errors.New("store: the log failed earlier (restart the daemon)")
