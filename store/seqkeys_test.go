package store_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// seqKeysBucket's keys are its sequence's values in decimal.
const seqKeysBucket = "seqkeys_test"

func init() {
	store.SequenceKeys(seqKeysBucket, func(k []byte) (uint64, bool) {
		n, err := strconv.ParseUint(string(k), 10, 64)
		return n, err == nil
	})
}

// putKeys stores keys 1..n without drawing them: the bucket's sequence
// stays behind its keys, as after an import that did not carry it over.
func putKeys(t *testing.T, db *store.DB, n int) {
	t.Helper()
	update(t, db, func(tx *store.Tx) error {
		for i := 1; i <= n; i++ {
			if err := tx.Put(seqKeysBucket, []byte(strconv.Itoa(i)), []byte("old")); err != nil {
				return err
			}
		}
		return tx.Put(seqKeysBucket, []byte("not a number"), []byte("x"))
	})
}

// drawKey draws the bucket's next key and stores it as new (a plain
// INSERT on PostgreSQL), as a new conversation's tag is.
func drawKey(t *testing.T, db *store.DB) uint64 {
	t.Helper()
	var n uint64
	update(t, db, func(tx *store.Tx) (err error) {
		if n, err = tx.Sequence(seqKeysBucket); err != nil {
			return err
		}
		k := []byte(strconv.FormatUint(n, 10))
		tx.Absent(seqKeysBucket, k)
		return tx.Put(seqKeysBucket, k, []byte("new"))
	})
	return n
}

// On PostgreSQL, a sequence 30 behind its keys (more than the batch's 20
// reruns, each of which draws the next value) is advanced at the first
// key that meets a row, and the write goes through with a new key; the
// old keys keep their values.
func TestSequenceBehindItsKeysIsAdvancedOnPostgres(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	putKeys(t, db, 30)
	if n := drawKey(t, db); n != 31 {
		t.Errorf("drawn %d, want 31", n)
	}
	if n := drawKey(t, db); n != 32 {
		t.Errorf("then drawn %d, want 32", n)
	}
	v, err := db.Get(context.Background(), seqKeysBucket, []byte("30"))
	if err != nil || string(v) != "old" {
		t.Errorf("key 30 = %q, %v; want it kept", v, err)
	}
}

// Copy advances the destination's sequence past the keys it copied, when
// the source's was behind them.
func TestCopyAdvancesASequenceBehindItsKeys(t *testing.T) {
	src, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	putKeys(t, src, 30)
	for name, dst := range map[string]func() *store.DB{
		"postgres": func() *store.DB { return pgtest.Open(t, t.TempDir(), store.Options{}) },
		"bbolt": func() *store.DB {
			db, err := store.Open(t.TempDir(), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		},
	} {
		t.Run(name, func(t *testing.T) {
			db := dst()
			if _, err := store.Copy(context.Background(), src, db); err != nil {
				t.Fatal(err)
			}
			if n := drawKey(t, db); n != 31 {
				t.Errorf("drawn %d after the copy, want 31", n)
			}
		})
	}
}

// A plain INSERT that meets a row in a bucket whose keys are not drawn
// from a sequence (another node stored the same dedupe key first) does not
// scan the SequenceKeys buckets nor advance their sequences: the failed
// batch's writers wait only for its reruns.
func TestRowMetElsewhereAdvancesNoSequenceOnPostgres(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	putKeys(t, db, 30)
	const other = "seqkeys_test_other"
	insert := func(k string) error {
		return db.Update(context.Background(), func(tx *store.Tx) error {
			tx.Absent(other, []byte(k))
			return tx.Put(other, []byte(k), []byte("v"))
		})
	}
	if err := insert("taken"); err != nil {
		t.Fatal(err)
	}
	stmts := db.Statements()
	if err := insert("new"); err != nil {
		t.Fatal(err)
	}
	once := db.Statements() - stmts
	stmts = db.Statements()
	if err := insert("taken"); err == nil {
		t.Fatal("a key inserted twice was stored")
	}
	failed := db.Statements() - stmts
	// The batch runs once and again at each of its 20 reruns, nothing more.
	if failed > 21*once {
		t.Errorf("statements: %d for an insert, %d for an insert that meets a row in every rerun, want at most 21×%d", once, failed, once)
	}
	var n uint64
	update(t, db, func(tx *store.Tx) (err error) { n, err = tx.Sequence(seqKeysBucket); return err })
	if n != 1 {
		t.Errorf("the sequence drew %d after a row met in another bucket, want 1: it was advanced", n)
	}
}
