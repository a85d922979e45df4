package loopguard

import (
	"strings"
	"testing"
)

// benchPlainEmail is the email `deskmail bench pipeline` sends: a
// customer's plain-text question, 40 lines, no quote, no signature.
var benchPlainEmail = []byte("From: Customer 7 <cust7@c7-x.bench>\r\nTo: support@bench.test\r\nSubject: question 7\r\n" +
	"Message-ID: <7.x@c.bench>\r\nDate: Mon, 07 Dec 2026 11:15:22 +0000\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
	strings.Repeat("Hello, I have a question about my order.\r\n", 40) + "\r\n")

// BenchmarkClassifyPlain parses and classifies the pipeline benchmark's
// email, the most common case: a person's question. Its CPU is the loop
// guard's share of `deskmail bench pipeline`:
//
//	go test -run '^$' -bench ClassifyPlain -benchmem ./loopguard
func BenchmarkClassifyPlain(b *testing.B) {
	g := New(Options{Secrets: corpusSecrets})
	env := Envelope{MailFrom: "cust7@c7-x.bench", Rcpts: []string{"support@bench.test"}, RemoteIP: "127.0.0.1"}
	b.ReportAllocs()
	b.SetBytes(int64(len(benchPlainEmail)))
	for i := 0; i < b.N; i++ {
		if v := g.ClassifyMessage(env, g.Parse(benchPlainEmail)); v.Class != Human {
			b.Fatalf("class %v, want human: %v", v.Class, v.Reasons)
		}
	}
}
