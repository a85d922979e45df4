package store

import (
	"encoding/binary"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkPipelineTx: the log's CPU per batch, the disk left out (the
// log's fdatasync is a no-op): one batch of two accepts (a sequence, a
// 5 KB put, an order-index entry, a read of a setting in bbolt) and two
// pipeline commits (a read of an email in the active layer, a scan of
// the sender's order entries, the deletion of one, a conversation put
// and a missed read, a read of a bbolt key), as the daemon makes them.
// No checkpoint runs (the clock would decide when). Counts, not clocks:
// instructions under callgrind, allocations per op.
func BenchmarkPipelineTx(b *testing.B) {
	db, err := Open(b.TempDir(), Options{LogSize: 256 << 20, CheckpointInterval: time.Hour,
		logHooks: &logHooks{syncLog: nosync, syncGrow: nosync}})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	val := make([]byte, 5000)
	small := make([]byte, 500)
	key := func(bucket string, i int) []byte { return binary.BigEndian.AppendUint64([]byte(bucket), uint64(i)) }
	// bbolt holds settings and 1,000 queue entries.
	if errs := db.RunBatch(func(tx *Tx) error {
		if err := tx.Put("conf", []byte("setting"), small); err != nil {
			return err
		}
		for i := range 1000 {
			if err := tx.Put("q", key("q", i), small); err != nil {
				return err
			}
		}
		return nil
	}); errs[0] != nil {
		b.Fatal(errs[0])
	}
	if err := db.be.(*walBackend).checkpoint(); err != nil {
		b.Fatal(err)
	}
	accept := func(i int) func(*Tx) error {
		return func(tx *Tx) error {
			if _, err := tx.Sequence("ids"); err != nil {
				return err
			}
			if err := tx.Put("emails", key("e", i), val); err != nil {
				return err
			}
			if err := tx.Put("order", key("sender/", i), []byte("x")); err != nil {
				return err
			}
			if tx.Get("conf", []byte("setting")) == nil {
				return fmt.Errorf("no setting")
			}
			return nil
		}
	}
	process := func(i int) func(*Tx) error {
		return func(tx *Tx) error {
			if tx.Get("emails", key("e", i)) == nil {
				return fmt.Errorf("email %d missing", i)
			}
			first := true
			err := tx.ScanPrefix("order", []byte("sender/"), func(k, _ []byte) (bool, error) {
				first = false
				return false, nil
			})
			if err != nil || first {
				return fmt.Errorf("order scan: %v", err)
			}
			if err := tx.Delete("order", key("sender/", i)); err != nil {
				return err
			}
			if tx.Get("conv", key("c", i)) != nil {
				return fmt.Errorf("conversation %d exists", i)
			}
			if err := tx.Put("conv", key("c", i), small); err != nil {
				return err
			}
			if tx.Get("q", key("q", i%1000)) == nil {
				return fmt.Errorf("queue entry %d missing", i%1000)
			}
			return nil
		}
	}
	n := 0
	for range 4 {
		db.RunBatch(accept(n), accept(n+1))
		n += 2
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		for _, err := range db.RunBatch(accept(n), accept(n+1), process(n-8), process(n-7)) {
			if err != nil {
				b.Fatal(err)
			}
		}
		n += 2
	}
}

func nosync(*os.File) error { return nil }
