package loopguard

import (
	"fmt"
	"strings"
	"testing"
)

// hostileInputs are the slowest shapes of input found while hunting the
// stalls of FuzzClassify (see docs/LOOP-PREVENTION.md, "Bounded time"),
// each about n bytes: before the bounds, the worst took about a second per
// MiB; now each costs a bounded amount whatever its size.
func hostileInputs(n int) map[string][]byte {
	r := strings.Repeat
	daemon := "From: MAILER-DAEMON@x.example\nSubject: Undelivered Mail Returned to Sender\nMIME-Version: 1.0\n"
	return map[string][]byte{
		// enmime's base64 cleaner formatted an error per stray byte.
		"base64-junk": []byte("Content-Transfer-Encoding: base64\n\n" + r("!", n)),
		// enmime parsed part headers without a cap.
		"part-many-fields": []byte("Content-Type: multipart/mixed; boundary=b\n\n--b\n" + r("X-A: a\n", n/7) + "\nx\n--b--\n"),
		"part-no-colon":    []byte("Content-Type: multipart/mixed; boundary=b\n\n--b\nX-A: a\n" + r("abc\n", n/4) + "\nx\n--b--\n"),
		// The legacy bounce patterns ran over 256 KiB, the quoted
		// Message-ID pattern over 1 MiB.
		"bounce-indented":  []byte(daemon + "\n" + r("  a@b.c\n", n/8)),
		"bounce-lt-colon":  []byte(daemon + "\n" + r("<a@b.c>: ", n/9)),
		"bounce-sendmail":  []byte(daemon + "\n" + r("<a@b.c>... ", n/12)),
		"bounce-smtp-code": []byte(daemon + "\n" + r("550 5.1.1 \n", n/11)),
		"quoted-msgid":     []byte(daemon + "\n" + r(">>>>>>>>message-id: \n", n/21)),
		// The phrase rules read HTML and subjects.
		"html-tags":      []byte("Content-Type: text/html\n\n" + r("<a ", n/3)),
		"subject-words":  []byte("Subject: " + r("=?utf-8?q?a?= ", n/14) + "\n\nx"),
		"nested-same":    []byte("Content-Type: multipart/mixed; boundary=b\n\n" + r("--b\nContent-Type: multipart/mixed; boundary=b\n\n", n/48)),
		"many-delimiter": []byte("Content-Type: multipart/mixed; boundary=b\n\n" + r("--b", n/3)),
	}
}

// BenchmarkClassifyHostile classifies each hostile shape at 1 MiB and 4
// MiB (the daemon's classifyPrefix), with the null reverse path, which
// runs the most rules. Time per op must not grow with the size.
func BenchmarkClassifyHostile(b *testing.B) {
	g := New(Options{Secrets: corpusSecrets})
	for _, size := range []int{1 << 20, 4 << 20} {
		for name, raw := range hostileInputs(size) {
			b.Run(fmt.Sprintf("%s/%dMiB", name, size>>20), func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				for i := 0; i < b.N; i++ {
					g.Classify(Envelope{}, raw)
				}
			})
		}
	}
}
