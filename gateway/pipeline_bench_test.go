package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
)

// nxDNS answers every name with NXDOMAIN, as the DNS server of `deskmail
// bench pipeline` does.
type nxDNS struct{}

func nx(name string) error { return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true} }

func (nxDNS) LookupTXT(_ context.Context, n string) ([]string, error)        { return nil, nx(n) }
func (nxDNS) LookupMX(_ context.Context, n string) ([]*net.MX, error)        { return nil, nx(n) }
func (nxDNS) LookupIPAddr(_ context.Context, n string) ([]net.IPAddr, error) { return nil, nx(n) }
func (nxDNS) LookupAddr(_ context.Context, n string) ([]string, error)       { return nil, nx(n) }

// BenchmarkPipelineBacklog is the pipeline's CPU per email on bbolt with
// the accept left out: b.N emails of `deskmail bench pipeline` (a
// customer's question to the support address, each from a sender of its
// own) are stored through inbound.Receiver, then the daemon starts on the
// data folder and its pipeline drains them (claim, read, the intake
// steps, commit, the checkpoints). The DNS is a resolver in the process
// that answers NXDOMAIN at once (the bench's DNS client is left out).
// Counts, not clocks: allocations per email (the difference of two runs'
// figures over their emails cancels the daemon's start), and instructions
// with callgrind, which zeroes its counts when the drain starts and dumps
// them when it ends (the last dump is of the b.N run):
//
//	go test -c -o /tmp/gateway.test ./gateway
//	GOMAXPROCS=1 GODEBUG=cpu.rdtscp=off,asyncpreemptoff=1 valgrind --tool=callgrind \
//	  --zero-before='*gateway.benchDrainStart' --dump-before='*gateway.benchDrainEnd' \
//	  /tmp/gateway.test -test.run '^$' -test.bench PipelineBacklog -test.benchtime 2000x -test.cpu 1
//
// callgrind's costs per function are not credible across the goroutine
// switches; cachegrind's are (it keeps no call stack): the drain's cost
// per function is cg_diff of a cachegrind run with DESKMAIL_BENCH_NODRAIN=1
// (the setup alone) and one without.
func BenchmarkPipelineBacklog(b *testing.B) {
	dir := b.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.bench.test"}
	date := time.Now().Format(time.RFC1123Z)
	body := strings.Repeat("Hello, I have a question about my order.\r\n", 40)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for k := range 10 { // ten at once, as the bench's sessions: group commits
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := k; i < b.N; i += 10 {
				from := fmt.Sprintf("cust%d@c%d-x.bench", i, i)
				msg := fmt.Sprintf("From: Customer %d <%s>\r\nTo: support@bench.test\r\nSubject: question %d\r\n"+
					"Message-ID: <%d.x@c.bench>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
					i, from, i, i, date, body)
				if _, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: from, Rcpts: []string{"support@bench.test"},
					RemoteIP: "127.0.0.1", Helo: "client.bench", Proto: "ESMTP"}, bytes.NewReader([]byte(msg))); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	if os.Getenv("DESKMAIL_BENCH_NODRAIN") != "" {
		return // the setup alone, to subtract from a whole run's counts
	}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	loader := config.Register(fs)
	if err := fs.Parse([]string{"--data", dir, "--smtp-addr", "127.0.0.1:0", "--http-addr", "off",
		"--domain", "bench.test", "--max-connections-per-ip", "1000", "--max-pending", "1000000",
		"--hostname", "mx.bench.test"}); err != nil {
		b.Fatal(err)
	}
	cfg, err := loader.Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	// The collector as `deskmail serve` tunes it (cmd/deskmail's tuneGC;
	// GOGC=off leaves the collector's share out of the counts, which then
	// vary less from run to run).
	if _, set := os.LookupEnv("GOGC"); !set {
		defer debug.SetGCPercent(debug.SetGCPercent(cfg.GCPercent))
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(cfg.MemoryLimit))
	}
	b.ResetTimer()
	m0 := readAllocs()
	benchDrainStart()
	d, err := StartWith(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Resolver: nxDNS{}})
	if err != nil {
		b.Fatal(err)
	}
	// The pipeline's count first (a scan of the pending emails walks the
	// deleted ones of the log's layer), then the store to be sure; a
	// pipeline stuck for 5 minutes fails the benchmark instead of
	// hanging it (polled at 20 ms, not waitfor's 2: the counts of the
	// drain are what it measures).
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if time.Now().After(deadline) {
			b.Fatal("the pipeline did not drain within 5 minutes")
		}
		if n, _ := d.backlog.Pending(); n > 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		ids, err := inbound.Pending(context.Background(), d.DB, 1)
		if err != nil {
			b.Fatal(err)
		}
		if len(ids) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	benchDrainEnd()
	m1 := readAllocs()
	b.StopTimer()
	b.ReportMetric(float64(m1[0]-m0[0])/float64(b.N), "allocs/email")
	b.ReportMetric(float64(m1[1]-m0[1])/float64(b.N), "B/email")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Shutdown(ctx); err != nil {
		b.Fatal(err)
	}
}

// benchDrainStart and benchDrainEnd mark the drain for callgrind
// (--zero-before, --dump-before).
//
//go:noinline
func benchDrainStart() {}

//go:noinline
func benchDrainEnd() {}

func readAllocs() [2]uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return [2]uint64{s[0].Value.Uint64(), s[1].Value.Uint64()}
}
