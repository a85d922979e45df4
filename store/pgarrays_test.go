package store

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// byteaArray and textArray are sent exactly as [][]byte and []string
// were (a nil element a NULL, an empty one empty), without an allocation
// per element.
func TestArraysEncodeAsSlices(t *testing.T) {
	m := pgtype.NewMap()
	keys := [][]byte{[]byte("a"), {}, nil, []byte("conv\x00person")}
	names := []string{"jobs", "", "held"}
	enc := func(oid uint32, v any) []byte {
		b, err := m.Encode(oid, pgtype.BinaryFormatCode, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got, want := enc(pgtype.ByteaArrayOID, byteaArray(keys)), enc(pgtype.ByteaArrayOID, keys); !bytes.Equal(got, want) {
		t.Errorf("bytea[]: %q, want %q", got, want)
	}
	if got, want := enc(pgtype.TextArrayOID, textArray(names)), enc(pgtype.TextArrayOID, names); !bytes.Equal(got, want) {
		t.Errorf("text[]: %q, want %q", got, want)
	}
	if got, want := enc(pgtype.ByteaArrayOID, byteaArray(nil)), enc(pgtype.ByteaArrayOID, [][]byte(nil)); !bytes.Equal(got, want) {
		t.Errorf("nil bytea[]: %q, want %q", got, want)
	}
	many := make([][]byte, 64)
	for i := range many {
		many[i] = []byte{byte(i)}
	}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(10, func() {
		if _, err := m.Encode(pgtype.ByteaArrayOID, pgtype.BinaryFormatCode, byteaArray(many), buf[:0]); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 8 {
		t.Errorf("%.0f allocations to encode 64 keys, want a few for the array, none per key", allocs)
	}
}
