package store

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// A run of writes becomes one statement of the last write of each key,
// sorted; a statement between writes splits the runs and keeps its place;
// a single write stays the single-row statement.
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
	del("d", "1")
	del("d", "0")
	got := coalesceWrites(b.QueuedQueries, map[string]bool{}, nil)
	want := []string{sqlWrite, sqlSavepoint, sqlPut, sqlRelease, sqlDeleteMany}
	if len(got) != len(want) {
		t.Fatalf("%d statements, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].SQL != want[i] {
			t.Fatalf("statement %d is %q, want %q", i, got[i].SQL, want[i])
		}
	}
	a := got[0].Arguments
	dk := a[1].(byteaArray)
	if db := a[0].(textArray); len(db) != 2 || db[0] != "a" || string(dk[0]) != "w" || db[1] != "a" || string(dk[1]) != "y" {
		t.Errorf("deletes %v %q, want a/w a/y", db, dk)
	}
	pb, pk, pv := a[5].(textArray), a[6].(byteaArray), a[7].(byteaArray)
	if len(pb) != 2 || string(pk[0]) != "x" || string(pv[0]) != "3" || string(pk[1]) != "z" || string(pv[1]) != "2" {
		t.Errorf("upserts %v %q %q, want b/x=3 b/z=2", pb, pk, pv)
	}
	if len(a[2].(textArray)) != 0 || len(a[8].(textArray)) != 0 || a[11] != 0 {
		t.Errorf("inserts %v, updates %v (%v), want none", a[2], a[8], a[11])
	}
	if dk := got[4].Arguments[1].(byteaArray); string(dk[0]) != "0" || string(dk[1]) != "1" {
		t.Errorf("last run deletes %q, want d/0 d/1", dk)
	}
}

// Keys the database has no row of are put with a plain INSERT and not
// deleted at all, keys it has a row of with a plain UPDATE; rows then
// follows the writes.
func TestCoalesceWritesOfKeysKnown(t *testing.T) {
	var b pgx.Batch
	put := func(bucket, k, v string) { b.Queue(sqlPut, bucket, []byte(k), []byte(v)) }
	del := func(bucket, k string) { b.Queue(sqlDelete, bucket, []byte(k)) }
	ck := func(k string) string { return cacheKey("a", []byte(k)) }
	rows := map[string]bool{ck("new"): false, ck("none"): false, ck("new2"): false, ck("had"): true, ck("had2"): true}
	put("a", "new", "1")
	put("a", "old", "1")
	put("a", "had", "1")
	del("a", "none") // nothing to delete
	del("a", "x")
	b.Queue(sqlSavepoint)
	put("a", "new", "2") // inserted just before: an update now
	put("a", "x", "2")   // deleted just before: an insert
	del("a", "had2")
	b.Queue(sqlRelease)
	put("a", "new2", "1")
	b.Queue(sqlRelease)
	put("a", "had", "3")
	var sent rowCounter
	got := coalesceWrites(b.QueuedQueries, rows, &sent)
	want := []string{sqlWrite, sqlSavepoint, sqlWrite, sqlRelease, sqlInsert, sqlRelease, sqlWrite}
	if len(got) != len(want) {
		t.Fatalf("%d statements, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i].SQL != want[i] {
			t.Fatalf("statement %d is %q, want %q", i, got[i].SQL, want[i])
		}
	}
	// Deletes, inserts, upserts and updates, as key lists.
	kinds := func(a []any) string {
		return fmt.Sprintf("%s|%s|%s|%s|%v", a[1], a[3], a[6], a[9], a[11])
	}
	if k := kinds(got[0].Arguments); k != "[x]|[new]|[old]|[had]|1" {
		t.Errorf("first run: %s, want delete x, insert new, upsert old, update had", k)
	}
	if k := kinds(got[2].Arguments); k != "[had2]|[x]|[]|[new]|1" {
		t.Errorf("second run: %s, want delete had2, insert x, update new", k)
	}
	if k := kinds(got[6].Arguments); k != "[]|[]|[]|[had]|1" {
		t.Errorf("last run: %s, want update had", k)
	}
	// The rows sent, counted by kind (DB.RowsSent); the delete of none
	// was not sent.
	if d, n, p, u := sent.deletes.Load(), sent.inserts.Load(), sent.upserts.Load(), sent.updates.Load(); d != 2 || n != 3 || p != 1 || u != 3 {
		t.Errorf("rows sent: %d deletes, %d inserts, %d upserts, %d updates; want 2, 3, 1, 3", d, n, p, u)
	}
	for k, want := range map[string]bool{"none": false, "new": true, "x": true, "new2": true, "had": true, "had2": false, "old": true} {
		if has, ok := rows[ck(k)]; !ok || has != want {
			t.Errorf("rows[%s] after the writes = %v (known %v), want %v", k, has, ok, want)
		}
	}
}
