package inbound

import (
	"encoding/json"
	"reflect"
	"testing"
)

// recordCodec is one record type's binary form, for the shared fuzz and
// benchmark bodies below.
type recordCodec[T any] struct {
	version byte
	encode  func([]byte, *T) ([]byte, error)
	decode  func([]byte, *T) error
}

// checkRoundTrip: each value is written in the binary form, smaller than
// its JSON (the zero value aside), and reads back equal.
func checkRoundTrip[T any](t *testing.T, c recordCodec[T], values []T) {
	t.Helper()
	var zero T
	for i, v := range values {
		b, err := c.encode(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != c.version {
			t.Errorf("value %d written as %q, want the binary form", i, b)
		}
		var got T
		if err := c.decode(b, &got); err != nil {
			t.Fatalf("value %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Errorf("value %d: read back %+v, want %+v", i, got, v)
		}
		if j, _ := json.Marshal(&v); len(b) >= len(j) && !reflect.DeepEqual(v, zero) {
			t.Errorf("value %d: %d bytes binary, %d as JSON", i, len(b), len(j))
		}
	}
}

// checkRejects: good's binary form cut short, with a byte too many, and
// the version byte alone, and each of bad, are errors, and the value read
// is left zero.
func checkRejects[T any](t *testing.T, c recordCodec[T], good T, bad ...[]byte) {
	t.Helper()
	var zero T
	g, _ := c.encode(nil, &good)
	bad = append(bad, g[:len(g)-1], append(append([]byte{}, g...), 0), []byte{c.version})
	for _, b := range bad {
		var v T
		if err := c.decode(b, &v); err == nil || !reflect.DeepEqual(v, zero) {
			t.Errorf("decoding %q = %+v, %v; want an error", b, v, err)
		}
	}
}

// fuzzRecord: whatever bytes a bucket holds, reading them never panics,
// and what reads back from the binary form re-encodes to the same value.
func fuzzRecord[T any](f *testing.F, c recordCodec[T], seeds []T, extra ...[]byte) {
	for _, v := range seeds {
		b, _ := c.encode(nil, &v)
		f.Add(b)
	}
	for _, b := range extra {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var v T
		if err := c.decode(b, &v); err != nil || len(b) == 0 || b[0] != c.version {
			return
		}
		again, err := c.encode(nil, &v)
		if err != nil {
			t.Fatal(err)
		}
		var v2 T
		if err := c.decode(again, &v2); err != nil || !reflect.DeepEqual(v, v2) {
			t.Fatalf("%q read as %+v, re-encoded %q read as %+v (%v)", b, v, again, v2, err)
		}
	})
}

// benchRecord: read a record, change it, write it again; in the binary
// form and in the JSON of earlier versions.
func benchRecord[T any](b *testing.B, c recordCodec[T], v T, change func(*T)) {
	bin, _ := c.encode(nil, &v)
	js, _ := json.Marshal(&v)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got T
			if err := c.decode(bin, &got); err != nil {
				b.Fatal(err)
			}
			change(&got)
			if _, err := c.encode(make([]byte, 0, 256), &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got T
			if err := json.Unmarshal(js, &got); err != nil {
				b.Fatal(err)
			}
			change(&got)
			if _, err := json.Marshal(&got); err != nil {
				b.Fatal(err)
			}
		}
	})
}

var (
	stateCodec = recordCodec[State]{stateV1, encodeState, decodeState}
	metaCodec  = recordCodec[Meta]{metaV1, encodeMeta, decodeMeta}
)
