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

func TestCountFields(t *testing.T) {
	for _, s := range []string{"", " ", "a", " a ", "a b\tc\n", "\u00a0x\u2003y\u0085", "\xff \xfe", "x\u200by", "sent from  my\u3000phone"} {
		if got, want := countFields(s), len(strings.Fields(s)); got != want {
			t.Errorf("countFields(%q) = %d, strings.Fields %d", s, got, want)
		}
	}
}
