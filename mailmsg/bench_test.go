package mailmsg

import (
	"fmt"
	"testing"
)

// BenchmarkParseMIMEBomb parses multipart/mixed nested N deep, the MIME
// bomb of issue 21 (enmime took 1.4 s at 1,000 levels, 47 s at 8,000,
// 237 s at 16,000): time must grow linearly with N, and stay small, as
// the scanner stops at MaxDepth and only splits what it reads.
func BenchmarkParseMIMEBomb(b *testing.B) {
	for _, depth := range []int{1000, 8000, 16000, 64000} {
		raw := nested(depth)
		b.Run(fmt.Sprint(depth), func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				Parse(raw, Limits{})
			}
		})
	}
}

// BenchmarkParseMultipart parses an ordinary email (two alternatives and
// an attachment), for comparison.
func BenchmarkParseMultipart(b *testing.B) {
	raw := []byte("From: a@b.test\nTo: c@d.test\nSubject: hi\nContent-Type: multipart/mixed; boundary=o\n\n--o\n" +
		"Content-Type: multipart/alternative; boundary=i\n\n--i\nContent-Type: text/plain\n\nhello\n--i\n" +
		"Content-Type: text/html\n\n<p>hello</p>\n--i--\n--o\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n" +
		"Content-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--o--\n")
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(raw, Limits{})
	}
}
