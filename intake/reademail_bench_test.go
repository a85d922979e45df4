package intake

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/loopguard"
)

// benchEmails are the emails `deskmail bench pipeline` sends (a customer's
// plain-text question to the support address, 40 lines, each from a
// sender of its own), with their stored metadata.
func benchEmails(n int) ([]inbound.Meta, [][]byte) {
	metas := make([]inbound.Meta, n)
	raws := make([][]byte, n)
	for i := range n {
		from := fmt.Sprintf("cust%d@c%d-x.bench", i, i)
		raws[i] = []byte(fmt.Sprintf("From: Customer %d <%s>\r\nTo: support@bench.test\r\nSubject: question %d\r\n"+
			"Message-ID: <%d.x@c.bench>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
			i, from, i, i, time.Date(2026, 12, 7, 11, 15, 22, 0, time.UTC).Format(time.RFC1123Z),
			strings.Repeat("Hello, I have a question about my order.\r\n", 40)))
		metas[i] = inbound.Meta{ID: fmt.Sprintf("m%d", i), JournalID: fmt.Sprintf("j%d", i),
			Envelope: inbound.Envelope{MailFrom: from, Rcpts: []string{"support@bench.test"}, RemoteIP: "127.0.0.1", Proto: "ESMTP"}}
	}
	return metas, raws
}

// BenchmarkReadEmailPlain is the pipeline's store-independent work on one
// email of `deskmail bench pipeline` and scripts/bench-accept.sh (a
// person's question to the support address): the one parse, the loop
// guard and its rate limit, the verdict's record, and what threading
// reads (addresses, the stripped text). Instructions per email:
//
//	go test -c -o /tmp/intake.test ./intake
//	GODEBUG=asyncpreemptoff=1 GOGC=off valgrind --tool=callgrind /tmp/intake.test \
//	  -test.run '^$' -test.bench ReadEmailPlain -test.benchtime 2001x -test.cpu 1
func BenchmarkReadEmailPlain(b *testing.B) {
	const ring = 4096
	metas, raws := benchEmails(ring)
	clk := clock.NewFake(time.Date(2026, 12, 7, 11, 15, 0, 0, time.UTC))
	s := &InboundStep{Classify: &Classifier{Clock: clk, Guard: loopguard.New(loopguard.Options{Secrets: [][]byte{[]byte("bench-secret-0123456789abcdef")}})},
		Thread: &Threader{}}
	b.ReportAllocs()
	b.SetBytes(int64(len(raws[0])))
	i := 0
	for b.Loop() {
		r := s.readEmail(metas[i%ring], raws[i%ring])
		if r.v.Class != loopguard.Human || r.email.Text == "" || r.email.From == "" {
			b.Fatalf("class %v (%v), text %d bytes, from %q", r.v.Class, r.v.Reasons, len(r.email.Text), r.email.From)
		}
		i++
		if i%ring == 0 {
			clk.Advance(time.Hour) // every sender within its rate limit
		}
	}
}
