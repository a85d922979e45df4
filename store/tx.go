package store

import (
	"bytes"
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Tx is a transaction as domain packages see it: buckets named by string,
// keys and values as bytes. Slices returned by Get and passed to scan
// functions are valid only inside the transaction.
type Tx struct {
	tx *bolt.Tx
}

// Writable tells whether the transaction may write.
func (t *Tx) Writable() bool { return t.tx.Writable() }

func (t *Tx) bucket(name string, create bool) (*bolt.Bucket, error) {
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

// Get returns the value of key in bucket, or nil.
func (t *Tx) Get(bucket string, key []byte) []byte {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	return b.Get(key)
}

// Put stores value under key, creating the bucket if needed.
func (t *Tx) Put(bucket string, key, value []byte) error {
	b, err := t.bucket(bucket, true)
	if err != nil {
		return err
	}
	if err := b.Put(key, value); err != nil {
		return fmt.Errorf("put %s: %w", bucket, err)
	}
	return nil
}

// Delete removes key from bucket; a missing key or bucket is not an error.
func (t *Tx) Delete(bucket string, key []byte) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	if err := b.Delete(key); err != nil {
		return fmt.Errorf("delete %s: %w", bucket, err)
	}
	return nil
}

// Sequence returns the next value of bucket's counter (starting at 1).
func (t *Tx) Sequence(bucket string) (uint64, error) {
	b, err := t.bucket(bucket, true)
	if err != nil {
		return 0, err
	}
	return b.NextSequence()
}

// LastKey returns a copy of the largest key of bucket, or nil.
func (t *Tx) LastKey(bucket string) []byte {
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

// Count returns the number of keys in bucket.
func (t *Tx) Count(bucket string) int {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return 0
	}
	return b.Stats().KeyN
}

// Scan calls fn for each key >= from in ascending order (from nil: the
// first key) until fn returns false or an error. Do not write to the
// bucket being scanned from fn; collect keys and write afterwards.
func (t *Tx) Scan(bucket string, from []byte, fn func(k, v []byte) (bool, error)) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	var k, v []byte
	if from == nil {
		k, v = c.First()
	} else {
		k, v = c.Seek(from)
	}
	for ; k != nil; k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// ScanReverse calls fn for each key < before in descending order (before
// nil: from the last key) until fn returns false or an error.
func (t *Tx) ScanReverse(bucket string, before []byte, fn func(k, v []byte) (bool, error)) error {
	b, _ := t.bucket(bucket, false)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	var k, v []byte
	if before == nil {
		k, v = c.Last()
	} else {
		k, v = c.Seek(before)
		if k == nil {
			k, v = c.Last()
		}
		for k != nil && bytes.Compare(k, before) >= 0 {
			k, v = c.Prev()
		}
	}
	for ; k != nil; k, v = c.Prev() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// PruneBefore deletes the keys of bucket that sort before limit, at most
// batch keys per transaction, until none is left or ctx ends. Small batches
// keep each commit short: one huge delete makes bbolt rewrite a large
// freelist and stalls every writer waiting behind it. also, if set, runs in
// the same transaction for each deleted key (to drop index entries).
func (db *DB) PruneBefore(ctx context.Context, bucket string, limit []byte, batch int, also func(tx *Tx, k, v []byte) error) (int, error) {
	if batch <= 0 {
		batch = 500
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n := 0
		err := db.Update(ctx, func(tx *Tx) error {
			n = 0
			type kv struct{ k, v []byte }
			var doomed []kv
			err := tx.Scan(bucket, nil, func(k, v []byte) (bool, error) {
				if bytes.Compare(k, limit) >= 0 {
					return false, nil
				}
				doomed = append(doomed, kv{append([]byte(nil), k...), append([]byte(nil), v...)})
				return len(doomed) < batch, nil
			})
			if err != nil {
				return err
			}
			for _, d := range doomed {
				if also != nil {
					if err := also(tx, d.k, d.v); err != nil {
						return err
					}
				}
				if err := tx.Delete(bucket, d.k); err != nil {
					return err
				}
			}
			n = len(doomed)
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < batch {
			return total, nil
		}
	}
}
