package store

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"unsafe"
)

// BenchmarkLayerBatch: the active layer's cost per put as the log's
// writer pays it, alone: a layer of 20,000 keys in each of 4 buckets
// (random 24-byte keys, as ids and order entries spread over a bucket);
// each op is one batch: a writable copy, 8 puts of new random keys of
// 200-byte values (2 per bucket) into it, then the copy published (the
// next batch copies it again). Instructions under callgrind (difference
// of two -test.benchtime counts over 8 puts), bytes and allocations per
// op with -benchmem: the B-tree's copy-on-write of the nodes on each
// put's path is most of both.
func BenchmarkLayerBatch(b *testing.B) {
	buckets := []string{"emails", "order", "people", "journal"}
	r := rand.New(rand.NewPCG(1, 2))
	key := func() []byte {
		k := make([]byte, 24)
		binary.BigEndian.PutUint64(k, r.Uint64())
		binary.BigEndian.PutUint64(k[8:], r.Uint64())
		return k
	}
	val := make([]byte, 200)
	l := newLayer()
	var arena []byte
	own := map[string]bool{}
	for _, bk := range buckets {
		for range 20000 {
			l.apply(logOp{op: opPut, bucket: bk, key: key(), value: val}, own, &arena)
		}
	}
	// Keys made ahead, so the loop counts the layer's work only.
	keys := make([][]byte, 0, 8*(b.N+1))
	for range 8 * (b.N + 1) {
		keys = append(keys, key())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := l.writable()
		own := map[string]bool{}
		for j := range 8 {
			w.put(buckets[j%4], hold(&arena, keys[8*i+j], val), 24, own)
		}
		l = w
	}
}

// TestLayerEntryCompact: a layer's entry is one slice and a length (32
// bytes, one pointer), not a key's and a value's slices (56 bytes, two):
// every put copies the entries of the nodes on its path.
func TestLayerEntryCompact(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n > 32 {
		t.Fatalf("a layer's entry takes %d bytes, want at most 32", n)
	}
	kv := []byte("keyvalue")
	e := entry{kv: kv, n: 3}
	if string(e.key()) != "key" || string(e.value()) != "value" || cap(e.key()) != 3 {
		t.Fatalf("entry: key %q (cap %d), value %q", e.key(), cap(e.key()), e.value())
	}
	if v := (entry{kv: kv, n: 8}).value(); v == nil || len(v) != 0 {
		t.Fatalf("an empty value reads as %#v, want empty and not nil", v)
	}
}
