package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/time/rate"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/pipeline"
	"github.com/deskmail/deskmail/store"
)

type benchPipeOpts struct {
	messages int
	sessions int
	delay    time.Duration
	rate     float64
	workers  int
	timeout  time.Duration
	data     string
	profile  string
	memprof  string
	store    string
	direct   string
	inProc   bool
	nodes    int
}

func newBenchPipelineCmd() *cobra.Command {
	var o benchPipeOpts
	c := &cobra.Command{
		Use:   "pipeline",
		Short: "End to end: N emails over SMTP into their conversations, with a test DNS server of a chosen delay",
		Long: "Start a DNS server on 127.0.0.1 that answers every query after --dns-delay, and a\n" +
			"daemon in this process (fresh data folder, --dns pointed at that server), then send\n" +
			"--messages emails from distinct customers of distinct domains (so every email does its\n" +
			"own SPF and DMARC lookups) to the support address over --sessions SMTP sessions, at\n" +
			"--rate emails/s if given. Report emails/s from the first 250 to the last conversation\n" +
			"commit, and p50/p99/max of the time from each email's 250 to its commit.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBenchPipeline(cmd.OutOrStdout(), os.Stderr, o) },
	}
	f := c.Flags()
	addLoadFlags(f, &o)
	f.IntVar(&o.workers, "pipeline-workers", pipeline.DefaultWorkers, "the daemon's pipeline-workers")
	f.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	f.StringVar(&o.data, "data", "", "data folder (default: a temporary one, removed after)")
	f.StringVar(&o.store, "store", "", "the daemon's store: a postgres:// URL of an empty database (default: bbolt in the data folder)")
	f.StringVar(&o.direct, "store-direct", "", "with a --store through a transaction pooler (PgBouncer): the same database directly (the daemon's store-direct)")
	f.StringVar(&o.profile, "cpuprofile", "", "write a CPU profile of the daemon's run to this file")
	f.StringVar(&o.memprof, "memprofile", "", "write an allocation profile of the daemon's run to this file (go tool pprof -sample_index=alloc_space)")
	f.IntVar(&o.nodes, "nodes", 0, "run this many `deskmail serve` processes on the one --store database and split the sessions over them (0: one daemon in this process)")
	f.BoolVar(&o.inProc, "in-process-load", false, "send from this process (the CPU figures then include the load and the test DNS server)")
	return c
}

// addLoadFlags registers the flags of the load, which `bench pipeline`
// hands to its child.
func addLoadFlags(f *pflag.FlagSet, o *benchPipeOpts) {
	f.IntVar(&o.messages, "messages", 2000, "emails to send")
	f.IntVar(&o.sessions, "sessions", 10, "concurrent SMTP sessions")
	f.DurationVar(&o.delay, "dns-delay", 20*time.Millisecond, "how long the DNS server waits before each answer")
	f.Float64Var(&o.rate, "rate", 0, "emails/s offered in all (0: as fast as the sessions go)")
}

func runBenchPipeline(out, progress io.Writer, o benchPipeOpts) error {
	if o.messages <= 0 || o.sessions <= 0 {
		return errors.New("--messages and --sessions must be positive")
	}
	if o.nodes < 0 {
		return errors.New("--nodes must not be negative")
	}
	if o.nodes > 0 {
		if o.profile != "" || o.memprof != "" || o.inProc {
			return errors.New("--nodes runs the daemons in processes of their own: --cpuprofile, --memprofile and --in-process-load do not apply")
		}
		if !store.IsPostgres(o.store) {
			return errors.New("--nodes needs --store, a postgres:// URL of an empty database (the nodes share it)")
		}
	}
	load, err := startBenchLoad(o)
	if err != nil {
		return err
	}
	defer load.Close()
	dir := o.data
	if dir == "" {
		if dir, err = os.MkdirTemp("", "deskmail-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	}
	if o.nodes > 0 {
		return runBenchNodes(out, o, load, dir)
	}
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	loader := config.Register(fs)
	if err := fs.Parse([]string{"--data", dir, "--smtp-addr", "127.0.0.1:0", "--http-addr", "off",
		"--domain", "bench.test", "--dns", load.DNSAddr(), "--pipeline-workers", strconv.Itoa(o.workers),
		"--max-connections-per-ip", "1000", "--max-pending", "1000000", "--hostname", "mx.bench.test",
		"--store", o.store, "--store-direct", o.direct}); err != nil {
		return err
	}
	cfg, err := loader.Load(nil)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(progress, &slog.HandlerOptions{Level: slog.LevelError}))
	tuneGC(cfg) // as `deskmail serve` does
	d, err := gateway.Start(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = d.Shutdown(ctx)
	}()

	if o.profile != "" {
		pf, err := os.Create(o.profile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
	}
	if o.memprof != "" {
		runtime.MemProfileRate = 64 << 10
	}
	u0, s0, err := cpuTime()
	if err != nil {
		return err
	}
	mem0 := readMemCounts()
	trips0, stmts0 := d.DB.RoundTrips(), d.DB.Statements()
	accepted, first, failed, err := load.Send(d.Addrs["smtp"])
	if err != nil {
		return err
	}
	sent := time.Now()
	if err := benchWaitPending(d.DB, o.timeout); err != nil {
		return err
	}
	u1, s1, err := cpuTime()
	if err != nil {
		return err
	}
	mem := readMemCounts().sub(mem0)
	trips, stmts := d.DB.RoundTrips()-trips0, d.DB.Statements()-stmts0
	if o.profile != "" {
		pprof.StopCPUProfile()
	}
	if o.memprof != "" {
		if err := writeAllocProfile(o.memprof); err != nil {
			return err
		}
	}
	last, lat, err := benchCollect(d.DB, accepted)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "dns delay %s  sessions %d  offered %s  workers %d\n", o.delay, o.sessions, offered(o.rate), o.workers)
	printRun(out, lat, failed, len(accepted), first, sent, last)
	user, sys := u1-u0, s1-s0
	who := "the daemon's process (load and DNS in a child)"
	if o.inProc {
		who = "the process (daemon, load and DNS)"
	}
	fmt.Fprintf(out, "CPU of %s: %.2fs user + %.2fs system  =>  %.3f ms per email in a conversation\n",
		who, user.Seconds(), sys.Seconds(), float64((user+sys).Microseconds())/1000/float64(len(lat)))
	mem.print(out, len(lat))
	printCommitStats(out)
	if trips > 0 {
		fmt.Fprintf(out, "store: %d round trips to PostgreSQL  =>  %.1f per email (the bench's own polls for the end included)\n",
			trips, float64(trips)/float64(len(lat)))
		fmt.Fprintf(out, "store: %d statements to PostgreSQL  =>  %.2f per email (BEGIN and COMMIT included)\n",
			stmts, float64(stmts)/float64(len(lat)))
	}
	return nil
}

// printRun says how the run went: the emails in their conversations
// (lat: from each one's 250 to its commit) from the first 250 to the
// last commit, the accepting from the first 250 to the last one (sent),
// and the quantiles of lat.
func printRun(out io.Writer, lat []time.Duration, failed, accepted int, first, sent, last time.Time) {
	pct := quantiles(lat, time.Millisecond)
	span := last.Sub(first)
	fmt.Fprintf(out, "%d emails in their conversations (%d refused) in %.2fs from the first 250 to the last commit  =>  %.0f emails/s\n",
		len(lat), failed, span.Seconds(), float64(len(lat))/span.Seconds())
	fmt.Fprintf(out, "accepting took %.2fs (%.0f emails/s answered 250)\n", sent.Sub(first).Seconds(), float64(accepted)/sent.Sub(first).Seconds())
	fmt.Fprintf(out, "250 -> conversation commit:  p50 %s  p90 %s  p99 %s  max %s\n", pct(0.5), pct(0.9), pct(0.99), pct(1))
}

// memCounts are the process's allocations, collections and page faults
// so far (the bench prints their difference over the run per email).
type memCounts struct {
	allocs, bytes, gcs, goroutines uint64
	minflt                         int64
}

func readMemCounts() memCounts {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:objects"}, {Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	var c memCounts
	for i, p := range []*uint64{&c.allocs, &c.bytes, &c.gcs, &c.goroutines} {
		if s[i].Value.Kind() == metrics.KindUint64 {
			*p = s[i].Value.Uint64()
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		c.minflt = int64(ru.Minflt)
	}
	return c
}

func (c memCounts) sub(o memCounts) memCounts {
	return memCounts{allocs: c.allocs - o.allocs, bytes: c.bytes - o.bytes, gcs: c.gcs - o.gcs,
		goroutines: c.goroutines - o.goroutines, minflt: c.minflt - o.minflt}
}

func (c memCounts) print(out io.Writer, emails int) {
	if emails == 0 {
		return
	}
	n := float64(emails)
	fmt.Fprintf(out, "memory: %.0f allocations (%.1f KB) per email, %d collections, %.1f page faults per email, %.1f goroutines started per email\n",
		float64(c.allocs)/n, float64(c.bytes)/n/1000, c.gcs, float64(c.minflt)/n, float64(c.goroutines)/n)
}

// writeAllocProfile writes the heap profile (its alloc_space and
// alloc_objects samples are the run's allocations) to path.
func writeAllocProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// printCommitStats says how the store's commits went during the run (the
// daemon is in this process, its metrics too): the shared committer is
// where the accepting and the pipeline meet.
func printCommitStats(out io.Writer) {
	mfs, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		return
	}
	var n uint64
	var dur, batch float64
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			switch mf.GetName() {
			case "deskmail_store_commit_duration_seconds":
				n, dur = h.GetSampleCount(), h.GetSampleSum()
			case "deskmail_store_commit_batch_size":
				batch = h.GetSampleSum()
			}
		}
	}
	if s := commitStats(float64(n), dur, batch, ""); s != "" {
		fmt.Fprintln(out, s)
	}
}

// commitStats says how a store's n commits went, seconds their time and
// writes their writes in all, since after their number ("" if none).
func commitStats(n, seconds, writes float64, since string) string {
	if n <= 0 {
		return ""
	}
	return fmt.Sprintf("store: %.0f commits%s, mean %.1f ms, mean %.1f writes per commit", n, since, 1000*seconds/n, writes/n)
}

func offered(r float64) string {
	if r <= 0 {
		return "max"
	}
	return fmt.Sprintf("%.0f/s", r)
}

// benchSend sends the emails and returns when each was answered 250 (by
// Message-ID), the first 250 and how many were refused. addr may list
// several servers, comma-separated: session i goes to the i-th modulo
// their number.
func benchSend(addr string, o benchPipeOpts) (map[string]time.Time, time.Time, int, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		accepted = make(map[string]time.Time, o.messages)
		failed   int
		firstErr error
	)
	var lim *rate.Limiter
	if o.rate > 0 {
		lim = rate.NewLimiter(rate.Limit(o.rate), 1)
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	addrs := strings.Split(addr, ",")
	var wg sync.WaitGroup
	for k := range o.sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := smtp.Dial(addrs[k%len(addrs)])
			if err == nil {
				err = c.Hello("client.bench")
			}
			if err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return
			}
			defer c.Quit()
			for {
				i := next.Add(1)
				if i > int64(o.messages) {
					return
				}
				if lim != nil {
					_ = lim.Wait(context.Background())
				}
				from := fmt.Sprintf("cust%d@c%d-%s.bench", i, i, run)
				id := fmt.Sprintf("%d.%s@c.bench", i, run)
				msg := fmt.Sprintf("From: Customer %d <%s>\r\nTo: support@bench.test\r\nSubject: question %d\r\n"+
					"Message-ID: <%s>\r\nDate: %s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
					i, from, i, id, time.Now().Format(time.RFC1123Z), strings.Repeat("Hello, I have a question about my order.\r\n", 40))
				_, err := sendOne(c, benchOpts{from: from, rcpt: "support@bench.test"}, []byte(msg))
				at := time.Now()
				mu.Lock()
				if err != nil {
					failed++
				} else {
					accepted["<"+id+">"] = at
				}
				mu.Unlock()
				if err != nil {
					c.Reset()
				}
			}
		}()
	}
	wg.Wait()
	if len(accepted) == 0 {
		return nil, time.Time{}, failed, fmt.Errorf("no email was accepted: %v", firstErr)
	}
	var first time.Time
	for _, t := range accepted {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return accepted, first, failed, nil
}

// benchWaitPending waits until no email is pending. Each poll asks only
// whether one is (the first key of the pending emails), not how many: a
// count reads every pending email's state, and on PostgreSQL, with
// thousands pending, the polls cost the database more than the claims
// (they ran on the same cores as the daemon under test).
func benchWaitPending(db *store.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		ids, err := inbound.Pending(context.Background(), db, 1)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			n, _ := inbound.PendingCount(context.Background(), db)
			return fmt.Errorf("%d emails still pending after %s", n, timeout)
		}
		// Polling the store is cheap at this interval; the figures come
		// from the commit times, not from when the poll noticed.
		time.Sleep(50 * time.Millisecond)
	}
}

// benchCollect reads when each email was committed into its conversation:
// the ID of its message is taken in that commit (store.NewID's time
// prefix).
func benchCollect(db *store.DB, accepted map[string]time.Time) (time.Time, []time.Duration, error) {
	es, err := journal.Query(context.Background(), db, journal.Filter{Direction: journal.In, Limit: len(accepted) + 1000})
	if err != nil {
		return time.Time{}, nil, err
	}
	var last time.Time
	var lat []time.Duration
	err = db.View(context.Background(), func(tx *store.Tx) error {
		for _, e := range es {
			at, ok := accepted[e.MessageID]
			if !ok || e.Conversation == "" {
				continue
			}
			ms, err := model.Messages(tx, e.Conversation, 10)
			if err != nil {
				return err
			}
			for _, m := range ms {
				if m.Original != e.StoredID {
					continue
				}
				done, ok := store.IDTime(m.ID)
				if !ok {
					return fmt.Errorf("message id %q holds no time", m.ID)
				}
				lat = append(lat, max(done.Sub(at), 0))
				if done.After(last) {
					last = done
				}
			}
		}
		return nil
	})
	if len(lat) == 0 && err == nil {
		err = errors.New("no email reached a conversation")
	}
	return last, lat, err
}
