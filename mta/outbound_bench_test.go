package mta

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkRelayThroughput: emails of about 4 KiB, 8 senders at once, to
// a go-smtp sink on loopback; "reuse" keeps connections between emails,
// "fresh" dials (and says EHLO) for every one.
func BenchmarkRelayThroughput(b *testing.B) {
	msg := []byte(testMsg + strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 64))
	for _, reuse := range []bool{true, false} {
		name := "reuse"
		if !reuse {
			name = "fresh"
		}
		b.Run(name, func(b *testing.B) {
			s := newSink(b, false)
			maxIdle := 8
			if !reuse {
				maxIdle = -1
			}
			r := &Relay{Addr: s.addr, Hostname: "deskmail.test", Insecure: true, MaxIdle: maxIdle}
			defer r.Close()
			b.SetParallelism(4) // 4 x GOMAXPROCS senders
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := r.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", msg); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "emails/s")
			b.ReportMetric(float64(s.connections()), "connections")
		})
	}
}
