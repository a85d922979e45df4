package jsonrec

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// wordOf reads w's bytes, the lowest first (load8's order).
func wordOf(w uint64) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(w >> (8 * i))
	}
	return b
}

// The word test says what the byte table says of the eight bytes: every
// byte value at every place among fillers that borrow and fillers that
// do not, and words of bytes near every edge of the tables.
func TestWordTestsSameAsTables(t *testing.T) {
	check := func(b []byte) {
		t.Helper()
		w := load8(b, 0)
		if w != load8(string(b), 0) {
			t.Fatalf("load8 of % x: []byte and string differ", b)
		}
		escape := false
		for _, c := range b {
			escape = escape || !htmlSafe[c]
		}
		if got := escapeIn8(w); got != escape {
			t.Fatalf("escapeIn8(% x) = %v, the table says %v", b, got, escape)
		}
	}
	for _, fill := range []byte{'a', ' ', '!', '~', 0x7f, 0x21, 0x3d, 0x5d, 0x27} {
		for c := range 256 {
			for at := range 8 {
				b := bytes.Repeat([]byte{fill}, 8)
				b[at] = byte(c)
				check(b)
			}
		}
	}
	edges := []byte{0x00, 0x01, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x2e, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f,
		0x5b, 0x5c, 0x5d, 0x5e, 0x61, 0x7e, 0x7f, 0x80, 0x81, 0xa0, 0xc2, 0xe2, 0xfe, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, 8)
	for range 1_000_000 {
		for i := range b {
			if r.IntN(4) == 0 {
				b[i] = byte(r.IntN(256))
			} else {
				b[i] = edges[r.IntN(len(edges))]
			}
		}
		check(b)
	}
	if w := uint64(0x0102030405060708); !bytes.Equal(wordOf(w), []byte{8, 7, 6, 5, 4, 3, 2, 1}) || load8(wordOf(w), 0) != w {
		t.Fatal("wordOf and load8 disagree")
	}
}

// String writes what json.Marshal writes, and the Cursor reads it back,
// for strings long enough to take the eight-byte steps, with the bytes
// that stop them at every place.
func TestStringSameAsMarshalInWords(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	special := []string{"\"", "\\", "<", ">", "&", "\n", "\r", "\t", "\x00", "\x1f", "\x7f", "é", "\u2028", "\u2029", "\xff", "\xe2\x80", "😀"}
	for range 20_000 {
		var b []byte
		for range r.IntN(60) {
			if r.IntN(6) == 0 {
				b = append(b, special[r.IntN(len(special))]...)
			} else {
				b = append(b, byte(' '+r.IntN(95)))
			}
		}
		s := string(b)
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := String(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("String(%q) = %s, json.Marshal %s", s, got, want)
		}
		if got := Bytes(nil, b); !bytes.Equal(got, want) {
			t.Fatalf("Bytes(%q) = %s, json.Marshal %s", s, got, want)
		}
		c := &Cursor{B: append(want, ',')}
		q, plain := c.quoted()
		if c.Bad || !bytes.Equal(q, want) {
			t.Fatalf("quoted(%s) = %s (bad %v)", want, q, c.Bad)
		}
		if wantPlain := !bytes.ContainsAny(want[1:len(want)-1], "\\") && !hasControl(want); plain != wantPlain {
			t.Fatalf("quoted(%s): plain %v, want %v", want, plain, wantPlain)
		}
	}
}

func hasControl(b []byte) bool {
	for _, c := range b {
		if c < 0x20 {
			return true
		}
	}
	return false
}
