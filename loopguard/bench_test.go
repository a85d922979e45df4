package loopguard

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"
)

// BenchmarkClassify classifies the whole corpus round-robin and reports
// messages per second (run with -cpu 1 for the one-core figure).
func BenchmarkClassify(b *testing.B) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		b.Fatal(err)
	}
	var msgs [][]byte
	var total int64
	for _, name := range files {
		raw, err := os.ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += int64(len(raw))
	}
	g := New(Options{Secrets: corpusSecrets})
	b.SetBytes(total / int64(len(msgs)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		g.Classify(Envelope{MailFrom: "sender@example.org"}, msgs[i%len(msgs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkClassifyLatency classifies every case of the whole corpus
// (testdata/ and the generated families) under 100 KiB, each timed on its
// own, and reports the median and the 99th percentile per message of all
// timings (p50-µs, p99-µs: what a loaded machine gives, preemption
// included) and of each message's fastest run (p50-best-µs, p99-best-µs:
// the classifier's own cost, with the machine's noise left out):
//
//	go test -run '^$' -bench ClassifyLatency -benchtime 20x ./loopguard
func BenchmarkClassifyLatency(b *testing.B) {
	type msg struct {
		raw []byte
		env Envelope
	}
	var msgs []msg
	for _, c := range allCases(b) {
		if len(c.raw) < 100<<10 {
			msgs = append(msgs, msg{c.raw, c.env})
		}
	}
	g := corpusGuard()
	var times []time.Duration
	best := make([]time.Duration, len(msgs))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j, m := range msgs {
			start := time.Now()
			g.Classify(m.env, m.raw)
			d := time.Since(start)
			times = append(times, d)
			if i == 0 || d < best[j] {
				best[j] = d
			}
		}
	}
	b.StopTimer()
	pct := func(ts []time.Duration, p float64) float64 {
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		return float64(ts[int(p*float64(len(ts)-1))].Microseconds())
	}
	b.ReportMetric(pct(times, 0.50), "p50-µs")
	b.ReportMetric(pct(times, 0.99), "p99-µs")
	b.ReportMetric(pct(best, 0.50), "p50-best-µs")
	b.ReportMetric(pct(best, 0.99), "p99-best-µs")
	b.ReportMetric(pct(best, 1), "max-best-µs")
	b.ReportMetric(float64(len(msgs)), "msgs")
}
