package store

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
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
//   - Copy sets the destination's sequence past the keys it copied too;
//   - on PostgreSQL, a batch that meets a row where it inserted (23505 on
//     kv) into such a bucket advances that bucket's sequence past its keys
//     once before it runs again, so its next draw is new.
//
// The second is a scan of the bucket, run only after such a failure, while
// the batch's writers wait: a row met in another bucket (another node
// inserted the same dedupe key first) scans nothing. Should PostgreSQL not
// name the bucket (its error hides the key), every such bucket is scanned.

var (
	seqKeysMu sync.Mutex
	seqKeys   = map[string]func(key []byte) (uint64, bool){}
)

// SequenceKeys declares that bucket's keys are drawn from its own
// Sequence: valueOf reads the value a key was made from (false: a key not
// made so, left alone). Domain packages call it from init. A new key of
// such a bucket must be written as absent (a plain INSERT on PostgreSQL),
// so that a key handed out twice fails its batch instead of overwriting
// (setSequence).
func SequenceKeys(bucket string, valueOf func(key []byte) (uint64, bool)) {
	seqKeysMu.Lock()
	defer seqKeysMu.Unlock()
	seqKeys[bucket] = valueOf
}

// sequenceBuckets lists the SequenceKeys buckets.
func sequenceBuckets() []string {
	seqKeysMu.Lock()
	defer seqKeysMu.Unlock()
	return slices.Sorted(maps.Keys(seqKeys))
}

// keyValues is bucket's valueOf if it is a SequenceKeys bucket, else nil.
func keyValues(bucket string) func(key []byte) (uint64, bool) {
	seqKeysMu.Lock()
	defer seqKeysMu.Unlock()
	return seqKeys[bucket]
}

// advanceSequences moves each of these SequenceKeys buckets' sequence to
// at least the highest value its keys were made from.
func (db *DB) advanceSequences(ctx context.Context, buckets []string) error {
	for _, bucket := range buckets {
		valueOf := keyValues(bucket)
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
		if err := db.setSequence(ctx, bucket, top, true); err != nil {
			return err
		}
	}
	return nil
}

// setSequence makes bucket's next Sequence return n+1 (nothing if n is
// 0); forward: or more, never moving it back (on PostgreSQL see below).
func (db *DB) setSequence(ctx context.Context, bucket string, n uint64, forward bool) error {
	if n == 0 {
		return nil
	}
	if db.pg == nil {
		return db.Update(ctx, func(tx *Tx) error {
			if wt, ok := tx.ops.(*walTx); ok {
				if forward && wt.seqOf(bucket) >= n {
					return nil
				}
				return wt.setSequence(bucket, n)
			}
			b, err := tx.ops.(*boltTx).bucket(bucket, true)
			if err != nil || forward && b.Sequence() >= n {
				return err
			}
			return b.SetSequence(n)
		})
	}
	name, err := db.pg.ensureSequence(ctx, bucket)
	if err != nil {
		return err
	}
	if !forward {
		_, err = db.pg.pool.Exec(ctx, `SELECT setval($1::text::regclass, $2)`, name, int64(n))
		return err
	}
	// Forward, the sequence goes to n, or to the value nextval drew if
	// that is higher. The statement is not atomic: a value another
	// session draws between the nextval and the setval can be handed out
	// once more. That is safe only because every SequenceKeys bucket is
	// written with plain INSERTs (a taken key fails the batch, which
	// advances the sequence again and reruns), never with upserts.
	_, err = db.pg.pool.Exec(ctx, `SELECT setval($1::text::regclass, greatest($2, nextval($1::text::regclass)))`, name, int64(n))
	return err
}

// takenSequences names the SequenceKeys buckets whose sequence may have
// handed out the key err says a plain INSERT into kv met: the bucket
// PostgreSQL names if it is one (none if it is not), every one if it
// names none (it hides a key's values from a role that may not read
// them), none if err is no such failure.
func takenSequences(err error) []string {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "23505" || pe.TableName != "kv" {
		return nil
	}
	// DETAIL:  Key (bucket, key)=(tags, \x0102) already exists.
	rest, ok := strings.CutPrefix(pe.Detail, "Key (bucket, key)=(")
	if !ok {
		return sequenceBuckets()
	}
	bucket, _, _ := strings.Cut(rest, ", ")
	if keyValues(bucket) == nil {
		return nil
	}
	return []string{bucket}
}
