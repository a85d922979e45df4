package loopguard

import (
	"os"
	"path/filepath"
	"testing"
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
