package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/fetch"
	"github.com/deskmail/deskmail/fetch/imaptest"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// benchDaemon starts the daemon in-process (bbolt, or PostgreSQL with
// DESKMAIL_TEST_STORE=postgres as the e2e suite does) fetching from s.
func benchDaemon(b *testing.B, s *imaptest.Server, extra ...string) *gateway.Daemon {
	b.Helper()
	dir := b.TempDir()
	// The mailbox's rate limit off: the benchmark measures the way in.
	conf := filepath.Join(b.TempDir(), "deskmail.toml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "[[fetch]]\nurl = %q\nmax_per_minute = 100000000\n", imapURL(s)), 0o600); err != nil {
		b.Fatal(err)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	l := config.Register(fs)
	args := append([]string{"--data", dir, "--smtp-addr", "off", "--http-addr", "off", "--domain", "example.test",
		"--hostname", "mx.example.test", "--config", conf}, append(storeArgs(b, dir), extra...)...)
	if err := fs.Parse(args); err != nil {
		b.Fatal(err)
	}
	cfg, err := l.Load(nil)
	if err != nil {
		b.Fatal(err)
	}
	d, err := gateway.StartWith(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), gateway.Options{Resolver: fakeDNS{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return d
}

func pendingCount(b *testing.B, db *store.DB) int64 {
	n, err := inbound.PendingCount(context.Background(), db)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkFetchMailbox: a Dovecot mailbox of 10,000 messages (each from
// its own customer: 10,000 new conversations) read into conversations:
// from the daemon's start until the last one is processed and moved.
//
//	go test -run '^$' -bench BenchmarkFetchMailbox -benchtime 1x ./e2e/
func BenchmarkFetchMailbox(b *testing.B) {
	const total = 10000
	for b.Loop() {
		b.StopTimer()
		s := imaptest.Start(b, imaptest.Options{})
		msgs := make([][]byte, total)
		for i := range msgs {
			msgs[i] = bytes.ReplaceAll(message(fmt.Sprintf("<bench-%d@client.test>", i), fmt.Sprintf("question %d", i), 2<<10),
				[]byte("customer@client.test"), fmt.Appendf(nil, "c%d@client.test", i))
		}
		s.Fill("INBOX", time.Now(), msgs...)
		b.StartTimer()
		start := time.Now()
		d := benchDaemon(b, s)
		for {
			st := d.Fetcher.Statuses()[0]
			if st.Fetched == total && pendingCount(b, d.DB) == 0 {
				break
			}
			if st.Failing() {
				b.Fatalf("mailbox failing: %s", st.Error)
			}
			time.Sleep(50 * time.Millisecond)
		}
		elapsed := time.Since(start)
		b.StopTimer()
		if n := s.Count(fetch.DefaultFolder); n != total {
			// The last batch's move follows its commit: wait for it.
			deadline := time.Now().Add(lineTimeout)
			for s.Count(fetch.DefaultFolder) != total && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
		}
		b.ReportMetric(float64(total)/elapsed.Seconds(), "msgs/s")
		b.ReportMetric(elapsed.Seconds(), "s/10k")
		b.StartTimer()
	}
}

// BenchmarkFetchIdleLatency: a message APPENDed to the mailbox, until it
// is processed into its conversation (the journal entry threaded), with
// the daemon waiting in IDLE. Reports p50 and p99.
//
//	go test -run '^$' -bench BenchmarkFetchIdleLatency -benchtime 200x ./e2e/
func BenchmarkFetchIdleLatency(b *testing.B) {
	s := imaptest.Start(b, imaptest.Options{})
	d := benchDaemon(b, s)
	waitfor.Until(b, lineTimeout, "the fetcher waits in IDLE", func() bool { return d.Fetcher.Statuses()[0].State == "idle" })
	c := s.Client()
	defer c.Logout()
	var lat []time.Duration
	i := 0
	for b.Loop() {
		i++
		id := fmt.Sprintf("<idle-%d@client.test>", i)
		msg := message(id, "idle", 2<<10)
		start := time.Now()
		if err := c.Append("INBOX", nil, time.Now(), bytes.NewReader(msg)); err != nil {
			b.Fatal(err)
		}
		for {
			es, err := journal.Query(context.Background(), d.DB, journal.Filter{Direction: journal.In, Limit: 4})
			if err != nil {
				b.Fatal(err)
			}
			found := false
			for _, e := range es {
				found = found || (e.MessageID == id && e.Class != "")
			}
			if found {
				break
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
		b.ReportMetric(float64(lat[min(len(lat)-1, len(lat)*99/100)].Milliseconds()), "p99-ms")
	}
}
