package fetch

import (
	"testing"
	"time"

	"github.com/deskmail/deskmail/fetch/imaptest"
)

// BenchmarkFetchStore: messages per second from a Dovecot mailbox into
// the store (fetch and durable commit only, the per-mailbox rate limit
// off; e2e's BenchmarkFetchMailbox
// measures the whole way into conversations).
//
//	go test -run '^$' -bench BenchmarkFetchStore -benchtime 1x ./fetch/
func BenchmarkFetchStore(b *testing.B) {
	const total = 5000
	for b.Loop() {
		b.StopTimer()
		f := newFixtureTB(b, imaptest.Options{})
		msgs := make([][]byte, total)
		for i := range msgs {
			msgs[i] = message(i, "bench")
		}
		f.imap.Fill("INBOX", time.Now(), msgs...)
		b.StartTimer()
		start := time.Now()
		fe, stop := f.run(f.mailbox(func(s *Settings) { s.MaxPerMinute = 1 << 30 }), nil)
		for fe.Statuses()[0].Fetched < total {
			time.Sleep(20 * time.Millisecond)
		}
		elapsed := time.Since(start)
		stop()
		b.ReportMetric(total/elapsed.Seconds(), "msgs/s")
	}
}
