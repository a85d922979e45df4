package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/jackc/pgx/v5"
)

// Copy moves a whole installation between backends (deskmail db copy):
// every bucket, every bucket's sequence and every large body. The
// destination must be empty; afterwards every bucket's key count and the
// number of bodies are compared, and a difference is an error.

// CopyReport is what Copy moved, per kind.
type CopyReport struct {
	Buckets map[string]int // keys per bucket, equal on both sides
	Bodies  int
}

// copyChunk keys per destination transaction.
const copyChunk = 1000

// Copy copies src into the empty store dst.
func Copy(ctx context.Context, src, dst *DB) (CopyReport, error) {
	rep := CopyReport{Buckets: map[string]int{}}
	have, err := dst.bucketSequences()
	if err != nil {
		return rep, err
	}
	for b := range have {
		var n int
		_ = dst.View(ctx, func(tx *Tx) error { n = tx.Count(b); return nil })
		if n > 0 {
			return rep, fmt.Errorf("the destination is not empty (bucket %s has %d keys): copy only into a new store", b, n)
		}
	}
	seqs, err := src.bucketSequences()
	if err != nil {
		return rep, err
	}
	names := make([]string, 0, len(seqs))
	for b := range seqs {
		names = append(names, b)
	}
	sort.Strings(names)
	for _, b := range names {
		// A source whose sequence was behind its keys (seqkeys.go) would
		// hand the destination keys that are taken: the sequence goes
		// past them too.
		n, top, err := copyBucket(ctx, src, dst, b)
		if err != nil {
			return rep, fmt.Errorf("copy bucket %s: %w", b, err)
		}
		if err := dst.setSequence(ctx, b, max(seqs[b], top), false); err != nil {
			return rep, fmt.Errorf("copy the sequence of %s: %w", b, err)
		}
		var want, got int
		_ = src.View(ctx, func(tx *Tx) error { want = tx.Count(b); return nil })
		if err := dst.View(ctx, func(tx *Tx) error { got = tx.Count(b); return nil }); err != nil {
			return rep, err
		}
		if got != want || n != want {
			return rep, fmt.Errorf("bucket %s: %d keys in the source, %d copied, %d in the destination", b, want, n, got)
		}
		rep.Buckets[b] = got
	}
	bodies, err := src.bodyNames()
	if err != nil {
		return rep, err
	}
	for _, name := range bodies {
		if err := copyBody(src, dst, name); err != nil {
			return rep, fmt.Errorf("copy body %s: %w", name, err)
		}
	}
	after, err := dst.bodyNames()
	if err != nil {
		return rep, err
	}
	if len(after) != len(bodies) {
		return rep, fmt.Errorf("bodies: %d in the source, %d in the destination", len(bodies), len(after))
	}
	rep.Bodies = len(after)
	return rep, nil
}

// copyBucket copies bucket's keys, and returns how many and, for a
// SequenceKeys bucket, the highest value they were made from.
func copyBucket(ctx context.Context, src, dst *DB, bucket string) (total int, top uint64, err error) {
	valueOf := keyValues(bucket)
	var from []byte
	for {
		type kv struct{ k, v []byte }
		var chunk []kv
		err := src.View(ctx, func(tx *Tx) error {
			return tx.Scan(bucket, from, func(k, v []byte) (bool, error) {
				if from != nil && string(k) == string(from) {
					return true, nil // the last key of the previous chunk
				}
				if valueOf != nil {
					if n, ok := valueOf(k); ok && n > top {
						top = n
					}
				}
				chunk = append(chunk, kv{append([]byte(nil), k...), append([]byte{}, v...)})
				return len(chunk) < copyChunk, nil
			})
		})
		if err != nil || len(chunk) == 0 {
			return total, top, err
		}
		err = dst.Update(ctx, func(tx *Tx) error {
			for _, r := range chunk {
				if err := tx.Put(bucket, r.k, r.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return total, top, err
		}
		total += len(chunk)
		from = chunk[len(chunk)-1].k
	}
}

func copyBody(src, dst *DB, name string) error {
	r, err := src.OpenSpool(name)
	if err != nil {
		return err
	}
	defer r.Close()
	w, err := dst.NewSpoolWriter()
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, r); err != nil {
		w.Abort()
		return err
	}
	return w.Commit(name)
}

// bucketSequences lists the buckets and their sequences' last values.
func (db *DB) bucketSequences() (map[string]uint64, error) {
	if db.pg == nil {
		ops, err := db.be.begin(context.Background(), false, nil, nil)
		if err != nil {
			return nil, err
		}
		defer ops.rollback()
		return ops.(interface {
			buckets() (map[string]uint64, error)
		}).buckets()
	}
	ctx, cancel := context.WithTimeout(context.Background(), viewTimeout)
	defer cancel()
	rows, err := db.pg.pool.Query(ctx, `SELECT DISTINCT bucket FROM kv`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := map[string]uint64{}
	for _, b := range names {
		var last int64
		var called bool
		err := db.pg.pool.QueryRow(ctx, `SELECT last_value, is_called FROM `+pgx.Identifier{sequenceName(b)}.Sanitize()).Scan(&last, &called)
		if err == nil && called {
			out[b] = uint64(last)
		} else {
			out[b] = 0
		}
	}
	return out, nil
}

// bodyNames lists the large bodies (spool files or rows).
func (db *DB) bodyNames() ([]string, error) {
	if db.pg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), viewTimeout)
		defer cancel()
		rows, err := db.pg.pool.Query(ctx, `SELECT name FROM bodies ORDER BY name`)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[string])
	}
	ents, err := os.ReadDir(filepath.Join(db.dir, spoolDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}
