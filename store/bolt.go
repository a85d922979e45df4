package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// boltBackend is the embedded default: one bbolt file in the data folder,
// locked by one process.
type boltBackend struct {
	db *bolt.DB
}

func (b *boltBackend) begin(_ context.Context, writable bool, _ []readKey, _ *lockSet) (txOps, error) {
	tx, err := b.db.Begin(writable)
	if err != nil {
		return nil, err
	}
	return &boltTx{tx: tx}, nil
}

func (b *boltBackend) size() int64 {
	var n int64
	_ = b.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

func (b *boltBackend) close() error { return b.db.Close() }

// retryable: a bbolt commit fails only on I/O errors, which a retry does
// not mend.
func (b *boltBackend) retryable(error) bool { return false }

// boltTx is one bbolt transaction.
type boltTx struct {
	tx *bolt.Tx
}

func (t *boltTx) writable() bool { return t.tx.Writable() }
func (t *boltTx) failed() error  { return nil }
func (t *boltTx) commit() error  { return t.tx.Commit() }
func (t *boltTx) rollback()      { _ = t.tx.Rollback() }

func (t *boltTx) bucket(name string, create bool) (*bolt.Bucket, error) {
	b := t.tx.Bucket([]byte(name))
	if b != nil || !create {
		return b, nil
	}
	b, err := t.tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("create bucket %s: %w", name, err)
	}
	return b, nil
}

func (t *boltTx) get(bucket string, key []byte) []byte {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	return b.Get(key)
}

func (t *boltTx) put(bucket string, key, value []byte) error {
	b, err := t.bucket(bucket, true)
	if err != nil {
		return err
	}
	if err := b.Put(key, value); err != nil {
		return fmt.Errorf("put %s: %w", bucket, err)
	}
	return nil
}

func (t *boltTx) del(bucket string, key []byte) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("delete %s: %w", bucket, err)
	}
	return nil
}

func (t *boltTx) sequence(bucket string) (uint64, error) {
	b, err := t.bucket(bucket, true)
	if err != nil {
		return 0, err
	}
	return b.NextSequence()
}

func (t *boltTx) lastKey(bucket string) []byte {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	k, _ := b.Cursor().Last()
	if k == nil {
		return nil
	}
	return append([]byte(nil), k...)
}

func (t *boltTx) count(bucket string) int {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return 0
	}
	if t.tx.Writable() {
		// Stats counts only what is on disk pages, not this transaction's
		// own writes: walk the keys instead (a write transaction counts
		// small buckets, to enforce limits).
		n := 0
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			n++
		}
		return n
	}
	return b.Stats().KeyN
}

func (t *boltTx) scan(bucket string, from, to []byte, fn func(k, v []byte) (bool, error)) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, v := seekBolt(c, false, from)
	for ; k != nil && (to == nil || bytes.Compare(k, to) < 0); k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

func (t *boltTx) scanReverse(bucket string, before []byte, fn func(k, v []byte) (bool, error)) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, v := seekBolt(c, true, before)
	for ; k != nil; k, v = c.Prev() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// buckets lists the bucket names and their sequences (db copy).
func (t *boltTx) buckets() (map[string]uint64, error) {
	out := map[string]uint64{}
	err := t.tx.ForEach(func(name []byte, b *bolt.Bucket) error {
		out[string(name)] = b.Sequence()
		return nil
	})
	return out, err
}
