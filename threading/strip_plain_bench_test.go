package threading

import (
	"strings"
	"testing"
)

// BenchmarkStripTextPlain strips the body of the email `deskmail bench
// pipeline` sends (40 lines of a question, nothing to cut), the stripper's
// share of that benchmark:
//
//	go test -run '^$' -bench StripTextPlain -benchmem ./threading
func BenchmarkStripTextPlain(b *testing.B) {
	in := strings.Repeat("Hello, I have a question about my order.\n", 40)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		StripText(in)
	}
}
