package inbound

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/deskmail/deskmail/store"
)

// ErrNotFound is returned for an unknown message ID.
var ErrNotFound = errors.New("inbound: no such message")

// Load returns a stored message's record; ctx bounds the read.
func Load(ctx context.Context, db *store.DB, id string) (Meta, error) {
	var m Meta
	// One key: a read of its own, not a transaction (store.DB.Get).
	v, err := db.Get(ctx, bucketMeta, []byte(id))
	if err != nil {
		return m, err
	}
	if v == nil {
		return m, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	err = decodeMeta(v, &m)
	return m, err
}

// LoadWithRaw is Load that reads, in the same round trip on PostgreSQL,
// the raw bytes of a message stored inline too, and returns ctx carrying
// them: OpenRaw with that context answers from them instead of reading
// the store again (the pipeline reads both for every email).
func LoadWithRaw(ctx context.Context, db *store.DB, id string) (context.Context, Meta, error) {
	vs, err := db.GetMany(ctx, store.Key{Bucket: bucketMeta, Key: []byte(id)}, store.Key{Bucket: bucketRaw, Key: []byte(id)})
	if err != nil {
		return ctx, Meta{}, err
	}
	return Loaded{id: id, meta: vs[0], raw: vs[1]}.Open(ctx)
}

// Loaded is a stored email's record and raw bytes as a transaction read
// them (LockForClaimLoading), to be opened later, outside of it.
type Loaded struct {
	id        string
	meta, raw []byte
}

// LockForClaimLoading is LockForClaim that reads too, in the same round
// trip on PostgreSQL and after the locks, the record and raw bytes of
// each email whose lock it takes (store.Tx.TryLockAllLimit): the
// pipeline's claim hands its workers what they would read first. Raw
// bytes are read only while they add up to at most rawBytes, in the
// order of ids; an email past that has its record alone (its worker
// reads the bytes). loaded has an entry of every id held.
func LockForClaimLoading(tx *store.Tx, ids []string, rawBytes int) (held []string, loaded map[string]Loaded, err error) {
	names := make([]string, len(ids))
	fresh := make([][]store.Key, len(ids))
	for i, id := range ids {
		k := []byte(id)
		names[i] = EmailLock(id)
		fresh[i] = []store.Key{{Bucket: bucketPending, Key: k}, {Bucket: bucketMeta, Key: k}, {Bucket: bucketRaw, Key: k}}
	}
	got, err := tx.TryLockAllLimit(names, fresh, store.FreshLimit{Bucket: bucketRaw, Bytes: rawBytes})
	if err != nil {
		return nil, nil, err
	}
	held = make([]string, 0, len(ids))
	loaded = make(map[string]Loaded, len(ids))
	for i, id := range ids {
		if !got[i] {
			continue
		}
		held = append(held, id)
		k := []byte(id)
		l := Loaded{id: id, meta: bytes.Clone(tx.Get(bucketMeta, k))}
		if l.meta != nil && tx.Fetched(bucketRaw, k) {
			l.raw = bytes.Clone(tx.Get(bucketRaw, k))
		}
		loaded[id] = l
	}
	return held, loaded, nil
}

// Record is the record's bytes as the claim read them: the commit
// compares them with the current ones (Unchanged).
func (l Loaded) Record() []byte { return l.meta }

// Meta decodes the record alone.
func (l Loaded) Meta() (Meta, error) {
	var m Meta
	if l.meta == nil {
		return m, fmt.Errorf("%w: %s", ErrNotFound, l.id)
	}
	err := decodeMeta(l.meta, &m)
	return m, err
}

// Unchanged tells whether id's record in tx is still record, the bytes
// the claim read (Loaded.Record): the pipeline's commit checks it in
// case a record changed other than with Finish (CommitReads reads it in
// the commit's first round trip).
func Unchanged(tx *store.Tx, id string, record []byte) bool {
	return bytes.Equal(tx.Get(bucketMeta, []byte(id)), record)
}

// Open decodes the record and returns what LoadWithRaw would: ctx
// carrying the raw bytes of a message stored inline, and its record
// (ErrNotFound when there is none).
func (l Loaded) Open(ctx context.Context) (context.Context, Meta, error) {
	m, err := l.Meta()
	if err != nil {
		return ctx, m, err
	}
	if l.raw != nil && !m.Spooled {
		ctx = context.WithValue(ctx, rawKey{}, loadedRaw{id: l.id, raw: l.raw})
	}
	return ctx, m, nil
}

// rawKey is the context key of the raw bytes LoadWithRaw read.
type rawKey struct{}

type loadedRaw struct {
	id  string
	raw []byte
}

// LoadTx is Load in the caller's transaction.
func LoadTx(tx *store.Tx, id string) (Meta, error) {
	var m Meta
	v := tx.Get(bucketMeta, []byte(id))
	if v == nil {
		return m, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	err := decodeMeta(v, &m)
	return m, err
}

// OpenRaw returns the raw bytes of a stored message, as received, with the
// Received header deskmail added on top.
func OpenRaw(ctx context.Context, db *store.DB, m Meta) (io.ReadCloser, error) {
	if m.Spooled {
		return db.OpenSpool(m.ID)
	}
	if l, ok := ctx.Value(rawKey{}).(loadedRaw); ok && l.id == m.ID {
		return io.NopCloser(bytes.NewReader(l.raw)), nil
	}
	raw, err := db.Get(ctx, bucketRaw, []byte(m.ID))
	if err != nil {
		return nil, err
	}
	if raw == nil {
		return nil, fmt.Errorf("%w: raw bytes of %s", ErrNotFound, m.ID)
	}
	return io.NopCloser(bytes.NewReader(raw)), nil
}

// ReadRaw reads at most limit bytes of a stored message: read from the
// store, the bytes the store gives (a copy of the value, cut to limit),
// not read through OpenRaw a second time; read from the spool, into a
// buffer of the message's size.
func ReadRaw(ctx context.Context, db *store.DB, m Meta, limit int64) ([]byte, error) {
	if !m.Spooled {
		if l, ok := ctx.Value(rawKey{}).(loadedRaw); ok && l.id == m.ID {
			return l.raw[:min(int64(len(l.raw)), limit)], nil // read by LoadWithRaw
		}
		raw, err := db.Get(ctx, bucketRaw, []byte(m.ID))
		if err != nil {
			return nil, err
		}
		if raw == nil {
			return nil, fmt.Errorf("%w: raw bytes of %s", ErrNotFound, m.ID)
		}
		return raw[:min(int64(len(raw)), limit)], nil
	}
	rc, err := db.OpenSpool(m.ID)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var b bytes.Buffer
	if m.Size > 0 {
		b.Grow(int(min(m.Size, limit)) + bytes.MinRead)
	}
	if _, err := b.ReadFrom(io.LimitReader(rc, limit)); err != nil {
		return nil, fmt.Errorf("read stored message: %w", err)
	}
	return b.Bytes(), nil
}

// Pending lists stored messages the pipeline has not finished, oldest
// first, at most max.
func Pending(ctx context.Context, db *store.DB, max int) ([]string, error) {
	var ids []string
	err := db.View(ctx, func(tx *store.Tx) error {
		return tx.Scan(bucketPending, nil, func(k, _ []byte) (bool, error) {
			ids = append(ids, string(k))
			return len(ids) < max, nil
		})
	})
	return ids, err
}

// Count returns how many messages are stored.
func Count(ctx context.Context, db *store.DB) (n int, err error) {
	err = db.View(ctx, func(tx *store.Tx) error { n = tx.Count(bucketMeta); return nil })
	return n, err
}

// SweepSpool removes spool files that no committed record points at (left
// by a crash between the spool rename and the commit).
func SweepSpool(ctx context.Context, db *store.DB) (int, error) {
	return db.SweepSpool(func(name string) bool {
		found := false
		_ = db.View(ctx, func(tx *store.Tx) error {
			found = tx.Get(bucketMeta, []byte(name)) != nil
			return nil
		})
		return found
	})
}

// Annotate rewrites a stored message's record through fn, in the caller's
// transaction (the pipeline records its verdicts this way).
func Annotate(tx *store.Tx, id string, fn func(*Meta)) error {
	v := tx.Get(bucketMeta, []byte(id))
	if v == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var m Meta
	if err := decodeMeta(v, &m); err != nil {
		return fmt.Errorf("decode message %s: %w", id, err)
	}
	fn(&m)
	m.ID = id
	nv, err := encodeMeta(make([]byte, 0, 256), &m)
	if err != nil {
		return err
	}
	return tx.Put(bucketMeta, []byte(id), nv)
}
