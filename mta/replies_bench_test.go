package mta

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// BenchmarkCRLFReader is the cost of the bare-LF check on BDAT data: one
// pass over the bytes, on top of the copy.
func BenchmarkCRLFReader(b *testing.B) {
	msg := []byte(strings.Repeat(strings.Repeat("x", 76)+"\r\n", 1<<20/78))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := io.Copy(io.Discard, &crlfReader{r: bytes.NewReader(msg)}); err != nil {
			b.Fatal(err)
		}
	}
}
