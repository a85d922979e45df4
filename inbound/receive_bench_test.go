package inbound

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkReceive is one 5 KB email's accept on a real bbolt file (parse
// of the header, hash, journal entry, records, group commit with fsync),
// ten at a time as ten SMTP sessions would.
//
//	go test -run '^$' -bench Receive -benchmem ./inbound
func BenchmarkReceive(b *testing.B) {
	r, _ := newReceiver(b, Limits{})
	body := strings.Repeat("Hello, I have a question about my order.\r\n", 120)
	var n atomic.Int64
	b.SetParallelism(5) // 10 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			msg := fmt.Sprintf("From: Customer <c%d@client.test>\r\nSubject: question %d\r\nMessage-ID: <%d@client.test>\r\n\r\n%s", i, i, i, body)
			if _, err := r.Receive(context.Background(), env, strings.NewReader(msg)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
