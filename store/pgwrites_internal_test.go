package store

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A run of writes becomes one DELETE and one INSERT of the last write of
// each key, sorted; a statement between writes splits the runs and keeps
// its place; a single write stays the single-row statement.
func TestCoalesceWrites(t *testing.T) {
	var b pgx.Batch
	put := func(bucket, k, v string) { b.Queue(sqlPut, bucket, []byte(k), []byte(v)) }
	del := func(bucket, k string) { b.Queue(sqlDelete, bucket, []byte(k)) }
	put("b", "z", "1")
	put("a", "y", "1")
	del("b", "x")
	put("b", "z", "2") // the last write of b/z
	put("b", "x", "3") // a delete then a put: a put
	del("a", "y")      // a put then a delete: a delete
	del("a", "w")
	b.Queue(sqlSavepoint)
	put("c", "only", "v")
	b.Queue(sqlRelease)
	got := coalesceWrites(b.QueuedQueries, map[string]bool{})
	if len(got) != 5 {
		t.Fatalf("%d statements, want 5: %v", len(got), got)
	}
	if got[0].SQL != sqlDeleteMany || got[1].SQL != sqlPutMany || got[2].SQL != sqlSavepoint || got[3].SQL != sqlPut || got[4].SQL != sqlRelease {
		t.Fatalf("statements in the wrong shape: %q %q %q %q %q", got[0].SQL, got[1].SQL, got[2].SQL, got[3].SQL, got[4].SQL)
	}
	dk := got[0].Arguments[1].(byteaArray)
	if db := got[0].Arguments[0].(textArray); len(db) != 2 || db[0] != "a" || string(dk[0]) != "w" || db[1] != "a" || string(dk[1]) != "y" {
		t.Errorf("deletes %v %q, want a/w a/y", db, dk)
	}
	pb, pk, pv := got[1].Arguments[0].(textArray), got[1].Arguments[1].(byteaArray), got[1].Arguments[2].(byteaArray)
	if len(pb) != 2 || string(pk[0]) != "x" || string(pv[0]) != "3" || string(pk[1]) != "z" || string(pv[1]) != "2" {
		t.Errorf("puts %v %q %q, want b/x=3 b/z=2", pb, pk, pv)
	}
}

// Keys the database has no row of (gone) are put with a plain INSERT and
// not deleted at all; gone then follows the writes.
func TestCoalesceWritesOfKeysKnownAbsent(t *testing.T) {
	var b pgx.Batch
	put := func(bucket, k, v string) { b.Queue(sqlPut, bucket, []byte(k), []byte(v)) }
	del := func(bucket, k string) { b.Queue(sqlDelete, bucket, []byte(k)) }
	gone := map[string]bool{cacheKey("a", []byte("new")): true, cacheKey("a", []byte("none")): true, cacheKey("a", []byte("new2")): true}
	put("a", "new", "1")
	put("a", "old", "1")
	del("a", "none") // nothing to delete
	del("a", "x")
	b.Queue(sqlSavepoint)
	put("a", "new", "2") // inserted just before: an upsert now
	put("a", "x", "2")   // deleted just before: an insert
	b.Queue(sqlRelease)
	put("a", "new2", "1")
	got := coalesceWrites(b.QueuedQueries, gone)
	if len(got) != 6 {
		t.Fatalf("%d statements, want 6: %v", len(got), got)
	}
	want := []string{sqlDelete, sqlInsertPutMany, sqlSavepoint, sqlInsertPutMany, sqlRelease, sqlInsert}
	for i := range want {
		if got[i].SQL != want[i] {
			t.Fatalf("statement %d is %q, want %q", i, got[i].SQL, want[i])
		}
	}
	if a := got[0].Arguments; string(a[1].([]byte)) != "x" {
		t.Errorf("deleted %q, want only a/x", a[1])
	}
	if a := got[1].Arguments; fmt.Sprint(a[1]) != "[[111 108 100]]" || fmt.Sprint(a[4]) != "[[110 101 119]]" {
		t.Errorf("first run upserts %q and inserts %q, want old and new", a[1], a[4])
	}
	if a := got[3].Arguments; string(a[1].(byteaArray)[0]) != "new" || string(a[4].(byteaArray)[0]) != "x" {
		t.Errorf("second run upserts %q and inserts %q, want new and x", a[1], a[4])
	}
	if !gone[cacheKey("a", []byte("none"))] || gone[cacheKey("a", []byte("new"))] || gone[cacheKey("a", []byte("x"))] || gone[cacheKey("a", []byte("new2"))] {
		t.Errorf("gone after the writes: %v", gone)
	}
}
