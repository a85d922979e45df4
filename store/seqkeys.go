package store

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// Keys made from a sequence. A bucket whose new keys are drawn from its
// own Sequence (conversation tags) may declare each new key absent
// (Tx.Absent: on PostgreSQL a plain INSERT), which holds while the
// sequence is ahead of every stored key. A store whose sequence fell
// behind its keys (a copy of a source whose sequence was behind; a
// logical replica of PostgreSQL, which does not carry sequences over)
// would have each new key meet a row: on PostgreSQL the batch fails with
// 23505 and runs again, drawing the next value, at most maxRetries times.
// The store keeps such sequences ahead instead:
//
//   - Copy advances the destination's sequence past the keys it copied;
//   - on PostgreSQL, a batch that meets a row where it inserted (23505 on
//     kv) advances every such sequence past its bucket's keys once before
//     it runs again, so its next draw is new.
//
// The second is a scan of the bucket, run only after such a failure.

var (
	seqKeysMu sync.Mutex
	seqKeys   = map[string]func(key []byte) (uint64, bool){}
)

// SequenceKeys declares that bucket's keys are drawn from its own
// Sequence: valueOf reads the value a key was made from (false: a key not
// made so, left alone). Domain packages call it from init. A new key of
// such a bucket must be written as absent (a plain INSERT on PostgreSQL),
// so that a key handed out twice fails its batch instead of overwriting
// (advanceSequence).
func SequenceKeys(bucket string, valueOf func(key []byte) (uint64, bool)) {
	seqKeysMu.Lock()
	defer seqKeysMu.Unlock()
	seqKeys[bucket] = valueOf
}

// advanceSequences moves each SequenceKeys bucket's sequence to at least
// the highest value its keys were made from.
func (db *DB) advanceSequences(ctx context.Context) error {
	seqKeysMu.Lock()
	buckets := make([]string, 0, len(seqKeys))
	for b := range seqKeys {
		buckets = append(buckets, b)
	}
	seqKeysMu.Unlock()
	slices.Sort(buckets)
	for _, bucket := range buckets {
		seqKeysMu.Lock()
		valueOf := seqKeys[bucket]
		seqKeysMu.Unlock()
		var top uint64
		err := db.View(ctx, func(tx *Tx) error {
			return tx.Scan(bucket, nil, func(k, _ []byte) (bool, error) {
				if n, ok := valueOf(k); ok && n > top {
					top = n
				}
				return true, nil
			})
		})
		if err != nil {
			return err
		}
		if err := db.advanceSequence(ctx, bucket, top); err != nil {
			return err
		}
	}
	return nil
}

// advanceSequence makes bucket's next Sequence return more than n. On
// bbolt it never moves the sequence back; on PostgreSQL see below.
func (db *DB) advanceSequence(ctx context.Context, bucket string, n uint64) error {
	if n == 0 {
		return nil
	}
	if db.pg == nil {
		return db.Update(ctx, func(tx *Tx) error {
			if wt, ok := tx.ops.(*walTx); ok {
				if wt.seqOf(bucket) >= n {
					return nil
				}
				return wt.setSequence(bucket, n)
			}
			b, err := tx.ops.(*boltTx).bucket(bucket, true)
			if err != nil || b.Sequence() >= n {
				return err
			}
			return b.SetSequence(n)
		})
	}
	name, err := db.pg.ensureSequence(ctx, bucket)
	if err != nil {
		return err
	}
	// The sequence goes to n, or to the value nextval drew if that is
	// higher. The statement is not atomic: a value another session draws
	// between the nextval and the setval can be handed out once more.
	// That is safe only because every SequenceKeys bucket is written with
	// plain INSERTs (a taken key fails the batch, which advances the
	// sequence again and reruns), never with upserts.
	_, err = db.pg.pool.Exec(ctx, `SELECT setval($1::text::regclass, greatest($2, nextval($1::text::regclass)))`, name, int64(n))
	return err
}

// keyTaken tells whether err is a plain INSERT into kv that met a row.
func keyTaken(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505" && pe.TableName == "kv"
}
