package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/store"
)

// `bench pipeline --nodes N` runs N real `deskmail serve` daemons, each a
// process of its own with its own data folder, on the one --store
// database, and splits the SMTP sessions over them (session i goes to node
// i mod N). Emails are counted in their conversations in the database,
// whichever node's pipeline committed them. The CPU of each daemon is
// read from /proc/PID/stat; PostgreSQL's too (its cluster's processes,
// when it runs on this machine); the WAL it wrote, each node's claims
// (its pipeline's counters); and a sampler records, every 100 ms, what
// the database's busy backends wait for (pg_stat_activity, pg_locks).
// --nodes 1 runs the one daemon the same way, so that one and two nodes
// are measured alike.

const benchToken = "bench-nodes-token-0123456789abcdef"

// benchNode is one `deskmail serve` child.
type benchNode struct {
	cmd        *exec.Cmd
	smtp, http string
	logPath    string
	exited     chan struct{}
	err        error
}

// freePort asks the kernel for a free loopback port (closed again at once:
// the daemon binds it a moment later).
func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startBenchNode(exe, dir, dnsAddr string, o benchPipeOpts) (*benchNode, error) {
	smtpAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freePort()
	if err != nil {
		return nil, err
	}
	n := &benchNode{smtp: smtpAddr, http: httpAddr, logPath: filepath.Join(dir, "serve.log"), exited: make(chan struct{})}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(n.logPath)
	if err != nil {
		return nil, err
	}
	args := []string{"serve", "--data", dir, "--smtp-addr", smtpAddr, "--http-addr", httpAddr,
		"--api-token", benchToken, "--domain", "bench.test", "--dns", dnsAddr,
		"--pipeline-workers", strconv.Itoa(o.workers), "--max-connections-per-ip", "1000",
		"--max-pending", "1000000", "--hostname", "mx.bench.test", "--log-level", "warn",
		"--store", o.store}
	if o.direct != "" {
		args = append(args, "--store-direct", o.direct)
	}
	n.cmd = exec.Command(exe, args...)
	n.cmd.Stdout, n.cmd.Stderr = logf, logf
	if err := n.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		n.err = n.cmd.Wait()
		logf.Close()
		close(n.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", smtpAddr, time.Second)
		if err == nil {
			c.Close()
			return n, nil
		}
		select {
		case <-n.exited:
			b, _ := os.ReadFile(n.logPath)
			return nil, fmt.Errorf("node %s exited at start (%v): %s", dir, n.err, b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, fmt.Errorf("node %s did not listen on %s within a minute", dir, smtpAddr)
		}
	}
}

// stop sends SIGINT (which `deskmail serve` takes as it takes SIGTERM)
// and waits for the node's end (SIGKILL after 30 s).
func (n *benchNode) stop() {
	select {
	case <-n.exited:
		return
	default:
	}
	_ = n.cmd.Process.Signal(os.Interrupt)
	select {
	case <-n.exited:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-n.exited
	}
}

// procCPU is the user+system CPU a process has used, from /proc/PID/stat
// (every thread of it), in clock ticks of 1/100 s.
func procCPU(pid int) (time.Duration, error) {
	f, err := procStat(pid, 13)
	if err != nil {
		return 0, err
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	k, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(u+k) * 10 * time.Millisecond, nil
}

// postgresCPU sums procCPU over the processes of the PostgreSQL server
// whose postmaster is pm (its backends, WAL writer, checkpointer), or,
// with pm 0 (the server is not on this machine, or its postmaster could
// not be told), over every process named postgres, other clusters' too.
// A backend that ends between two readings is left out of the second, so
// the nodes' connections, which live through the run, are what this
// counts.
func postgresCPU(pm int) map[int]time.Duration {
	out := map[int]time.Duration{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(comm)) != "postgres" {
			continue
		}
		if pm != 0 && pid != pm && procParent(pid) != pm {
			continue
		}
		if c, err := procCPU(pid); err == nil {
			out[pid] = c
		}
	}
	return out
}

// procSwitches is the context switches (voluntary and involuntary) of
// a process's threads that live now, from /proc/PID/task/*/status.
func procSwitches(pid int) int64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var n int64
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "voluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			} else if v, ok := strings.CutPrefix(line, "nonvoluntary_ctxt_switches:"); ok {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

// postgresSwitches reads procSwitches of each of the server's processes
// as postgresCPU finds them (the keys of cpu), by pid.
func postgresSwitches(cpu map[int]time.Duration) map[int]int64 {
	out := make(map[int]int64, len(cpu))
	for pid := range cpu {
		out[pid] = procSwitches(pid)
	}
	return out
}

// procParent is a process's parent (0 if it cannot be read).
func procParent(pid int) int {
	f, err := procStat(pid, 2)
	if err != nil {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// procStat is /proc/PID/stat's fields after comm (field 3 on: f[0] is
// the state), at least n of them.
func procStat(pid, n int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// comm (field 2) may hold spaces: count from its closing parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < n {
		return nil, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return f, nil
}

// postmaster is the pid of the postmaster serving c, if it runs on this
// machine (the parent of c's backend, named postgres), else 0.
func postmaster(c *pgx.Conn) int {
	var pid int
	if err := c.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		return 0
	}
	pm := procParent(pid)
	comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pm))
	if pm <= 1 || err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		return 0
	}
	return pm
}

// walLSN is the server's WAL insert position, in bytes (cluster-wide:
// every database of the server writes to it).
func walLSN(c *pgx.Conn) (int64, error) {
	var n int64
	err := c.QueryRow(context.Background(), `SELECT pg_current_wal_insert_lsn() - '0/0'::pg_lsn`).Scan(&n)
	return n, err
}

// sinceSum is what per-process counts (CPU, context switches) grew by
// since before, over the processes present both times, plus the whole
// of those started since.
func sinceSum[V int64 | time.Duration](before, after map[int]V) V {
	var d V
	for pid, c := range after {
		d += c - before[pid]
	}
	return d
}

// metricSums reads a node's /metrics and returns the value of each
// sample named in want (summed over labels).
func metricSums(httpAddr string, want ...string) (map[string]float64, error) {
	req, err := http.NewRequest("GET", "http://"+httpAddr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+benchToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		name, _, _ = strings.Cut(name, "{")
		for _, w := range want {
			if name == w {
				f := strings.Fields(rest)
				if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
					out[w] += v
				}
			}
		}
	}
	return out, sc.Err()
}

// waitSampler samples, every interval, what the busy backends of the
// database wait for, and how many connections it has.
type waitSampler struct {
	stop    context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	counts  map[string]int
	samples int
	maxConn int
	err     error
}

// The sample: one row per backend of the database that is not idle (its
// wait, or CPU when it waits for nothing, and what it runs, the first
// words of its statement), and one per advisory lock waited for. The
// sampler's own backend is left out.
const waitSampleSQL = `
SELECT coalesce(a.wait_event_type, 'CPU') || ':' || coalesce(a.wait_event, '-') || '  ' ||
       regexp_replace(left(a.query, 48), '\s+', ' ', 'g')
  FROM pg_stat_activity a
 WHERE a.datname = current_database() AND a.state <> 'idle' AND a.pid <> pg_backend_pid()
UNION ALL
SELECT 'waits for advisory lock ' || l.classid || '/' || l.objid || ' ' || l.mode
  FROM pg_locks l JOIN pg_database d ON d.oid = l.database
 WHERE d.datname = current_database() AND l.locktype = 'advisory' AND NOT l.granted
UNION ALL
SELECT 'connections ' || count(*) FROM pg_stat_activity WHERE datname = current_database()`

func startWaitSampler(url string, every time.Duration) (*waitSampler, error) {
	ctx, cancel := context.WithCancel(context.Background())
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		cancel()
		return nil, err
	}
	s := &waitSampler{stop: cancel, done: make(chan struct{}), counts: map[string]int{}}
	go func() {
		defer close(s.done)
		defer conn.Close(context.Background())
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, waitSampleSQL)
			if err != nil {
				if ctx.Err() == nil {
					s.mu.Lock()
					s.err = err
					s.mu.Unlock()
				}
				return
			}
			var got []string
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err == nil {
					got = append(got, v)
				}
			}
			rows.Close()
			s.mu.Lock()
			s.samples++
			for _, v := range got {
				if c, ok := strings.CutPrefix(v, "connections "); ok {
					n, _ := strconv.Atoi(c)
					s.maxConn = max(s.maxConn, n)
					continue
				}
				s.counts[v]++
			}
			s.mu.Unlock()
		}
	}()
	return s, nil
}

func (s *waitSampler) finish() {
	s.stop()
	<-s.done
}

func (s *waitSampler) print(out io.Writer, top int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	type kv struct {
		k string
		n int
	}
	var all []kv
	busy := 0
	for k, n := range s.counts {
		all = append(all, kv{k, n})
		if !strings.HasPrefix(k, "waits for") {
			busy += n
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].k < all[j].k })
	fmt.Fprintf(out, "database: %d samples every 100 ms, %.1f busy backends on average, at most %d connections\n",
		s.samples, float64(busy)/float64(max(s.samples, 1)), s.maxConn)
	if s.err != nil {
		fmt.Fprintf(out, "  (the sampler stopped: %v)\n", s.err)
	}
	for i, e := range all {
		if i == top {
			break
		}
		fmt.Fprintf(out, "  %5d  %s\n", e.n, e.k)
	}
}

// runBenchNodes is `bench pipeline --nodes N`: load is the bench's load
// (SMTP clients and test DNS), dir the folder for the nodes' data.
func runBenchNodes(out io.Writer, o benchPipeOpts, load benchLoad, dir string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	nodes := make([]*benchNode, 0, o.nodes)
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.stop() }()
		}
		wg.Wait()
	}()
	// One after the other: the first migrates the empty database.
	for i := range o.nodes {
		n, err := startBenchNode(exe, filepath.Join(dir, fmt.Sprintf("node%d", i+1)), load.DNSAddr(), o)
		if err != nil {
			return err
		}
		nodes = append(nodes, n)
	}
	// The bench's own handle on the database, read only: pending counts
	// and, at the end, the conversations. Its two readers are idle
	// during the run but for a count every 50 ms (its committers' four
	// connections do nothing).
	db, err := store.OpenPostgres(context.Background(), withParam(o.store, "pool_max_conns=2"), "",
		store.Options{Committers: 1, ReadOnly: true, NoMigrate: true})
	if err != nil {
		return err
	}
	defer db.Close()
	sampler, err := startWaitSampler(o.store, 100*time.Millisecond)
	if err != nil {
		return err
	}
	defer sampler.finish()
	stats, err := pgx.Connect(context.Background(), o.store)
	if err != nil {
		return err
	}
	defer stats.Close(context.Background())
	hasStatements := resetStatements(stats)
	db0, err := dbCounters(stats)
	if err != nil {
		return err
	}

	node0 := make([]map[string]float64, len(nodes))
	for i, n := range nodes {
		node0[i], _ = metricSums(n.http, pipelineCounters...)
	}
	addrs := make([]string, len(nodes))
	cpu0 := make([]time.Duration, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.smtp
		if cpu0[i], err = procCPU(n.cmd.Process.Pid); err != nil {
			return err
		}
	}
	pm := postmaster(stats)
	pg0 := postgresCPU(pm)
	sw0 := postgresSwitches(pg0)
	dsw0 := make([]int64, len(nodes))
	for i, n := range nodes {
		dsw0[i] = procSwitches(n.cmd.Process.Pid)
	}
	wal0, walErr := walLSN(stats)
	accepted, first, failed, err := load.Send(strings.Join(addrs, ","))
	if err != nil {
		return err
	}
	sent := time.Now()
	if err := benchWaitPending(db, o.timeout); err != nil {
		return err
	}
	pg1 := postgresCPU(pm)
	sw1 := postgresSwitches(pg1)
	var dsw int64
	for i, n := range nodes {
		dsw += procSwitches(n.cmd.Process.Pid) - dsw0[i]
	}
	wal1, err := walLSN(stats)
	walErr = errors.Join(walErr, err)
	node1 := make([]map[string]float64, len(nodes))
	for i, n := range nodes {
		node1[i], _ = metricSums(n.http, slices.Concat(pipelineCounters, commitMetrics)...)
	}
	cpu1 := make([]time.Duration, len(nodes))
	for i, n := range nodes {
		if cpu1[i], err = procCPU(n.cmd.Process.Pid); err != nil {
			return err
		}
	}
	sampler.finish()
	last, lat, err := benchCollect(db, accepted)
	if err != nil {
		return err
	}
	per := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / float64(len(lat)) }
	fmt.Fprintf(out, "nodes %d (deskmail serve processes on one database)  dns delay %s  sessions %d  offered %s  workers %d\n",
		len(nodes), o.delay, o.sessions, offered(o.rate), o.workers)
	printRun(out, lat, failed, len(accepted), first, sent, last)
	var all time.Duration
	for i := range nodes {
		c := cpu1[i] - cpu0[i]
		all += c
		m := node1[i]
		stats := commitStats(m["deskmail_store_commit_duration_seconds_count"], m["deskmail_store_commit_duration_seconds_sum"],
			m["deskmail_store_commit_batch_size_sum"], " since its start")
		if stats != "" {
			stats = "; " + stats
		}
		fmt.Fprintf(out, "node %d: CPU %.2fs (%.3f ms per email in a conversation)%s\n", i+1, c.Seconds(), per(c), stats)
	}
	for i := range nodes {
		printPipelineCounters(out, i+1, node0[i], node1[i], len(lat))
	}
	pg := sinceSum(pg0, pg1)
	which := "its cluster's processes"
	if pm == 0 {
		which = "every postgres process on the machine"
	}
	fmt.Fprintf(out, "CPU per email in a conversation: daemons %.3f ms, PostgreSQL %.3f ms (%s), together %.3f ms (%d cores)\n",
		per(all), per(pg), which, per(all+pg), runtime.NumCPU())
	fmt.Fprintf(out, "context switches per email in a conversation: daemons %.1f (their threads), PostgreSQL %.1f\n",
		float64(dsw)/float64(len(lat)), float64(sinceSum(sw0, sw1))/float64(len(lat)))
	if walErr == nil {
		fmt.Fprintf(out, "WAL per email in a conversation: %.0f bytes (the server's, every database)\n", float64(wal1-wal0)/float64(len(lat)))
	}
	sampler.print(out, 15)
	// PostgreSQL sends a backend's counters at most once a second, and
	// an idle one's within a second or so: wait for them.
	time.Sleep(1500 * time.Millisecond)
	if db1, err := dbCounters(stats); err == nil {
		n := float64(len(lat))
		fmt.Fprintf(out, "database, per email in a conversation: %.1f transactions committed, %.1f rolled back, %.0f rows returned by scans, %.1f fetched, %.1f inserted, %.1f updated, %.1f deleted\n",
			float64(db1[0]-db0[0])/n, float64(db1[1]-db0[1])/n, float64(db1[2]-db0[2])/n, float64(db1[3]-db0[3])/n,
			float64(db1[4]-db0[4])/n, float64(db1[5]-db0[5])/n, float64(db1[6]-db0[6])/n)
	}
	if hasStatements {
		printStatements(out, stats, len(lat))
	}
	return nil
}

// pipelineCounters are the counters of a node's pipeline that the bench
// prints per email: its claims and what came of them.
var pipelineCounters = []string{"deskmail_inbound_dispatch_claims_total", "deskmail_inbound_dispatch_empty_total",
	"deskmail_inbound_claim_candidates_total", "deskmail_inbound_claim_lost_total", "deskmail_inbound_claimed_total",
	"deskmail_inbound_due_passed_total"}

// commitMetrics are the sums of a node's store commits that the bench
// prints (commitStats), read with the pipeline's counters at the end.
var commitMetrics = []string{"deskmail_store_commit_duration_seconds_count", "deskmail_store_commit_duration_seconds_sum",
	"deskmail_store_commit_batch_size_sum"}

func printPipelineCounters(out io.Writer, node int, before, after map[string]float64, n int) {
	if before == nil || after == nil {
		return
	}
	d := func(k string) float64 { return (after[k] - before[k]) / float64(n) }
	fmt.Fprintf(out, "node %d pipeline, per email in a conversation: %.3f claim transactions, %.3f scans that found nothing to claim, %.3f candidates, %.3f lost at the claim (locked or claimed elsewhere), %.3f claimed, %.1f passed over in the due index\n",
		node, d("deskmail_inbound_dispatch_claims_total"), d("deskmail_inbound_dispatch_empty_total"),
		d("deskmail_inbound_claim_candidates_total"), d("deskmail_inbound_claim_lost_total"), d("deskmail_inbound_claimed_total"),
		d("deskmail_inbound_due_passed_total"))
}

// dbCounters reads the database's counters of pg_stat_database: commits,
// rollbacks, rows returned, fetched, inserted, updated, deleted.
func dbCounters(c *pgx.Conn) ([7]int64, error) {
	var v [7]int64
	err := c.QueryRow(context.Background(), `SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted
		FROM pg_stat_database WHERE datname = current_database()`).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6])
	return v, err
}

// resetStatements forgets this database's pg_stat_statements entries, and
// tells whether the extension is there (in the database: created in
// template1 before the bench's database was, and loaded by the server).
func resetStatements(c *pgx.Conn) bool {
	_, err := c.Exec(context.Background(), `SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)`)
	return err == nil
}

// printStatements prints the statements per email, by kind.
func printStatements(out io.Writer, c *pgx.Conn, n int) {
	rows, err := c.Query(context.Background(), `SELECT calls, rows, round(total_exec_time)::bigint, regexp_replace(left(query, 70), '\s+', ' ', 'g')
		FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		ORDER BY calls DESC`)
	if err != nil {
		fmt.Fprintf(out, "pg_stat_statements: %v\n", err)
		return
	}
	defer rows.Close()
	var total int64
	var lines []string
	for rows.Next() {
		var calls, nrows, ms int64
		var q string
		if err := rows.Scan(&calls, &nrows, &ms, &q); err != nil {
			return
		}
		total += calls
		if len(lines) < 15 {
			lines = append(lines, fmt.Sprintf("  %6.2f/email  %6.1f rows/call  %6d ms  %s", float64(calls)/float64(n), float64(nrows)/float64(max(calls, 1)), ms, q))
		}
	}
	fmt.Fprintf(out, "statements (pg_stat_statements, every client of the database): %.1f per email\n", float64(total)/float64(n))
	for _, l := range lines {
		fmt.Fprintln(out, l)
	}
}

// withParam adds query parameters to a URL.
func withParam(url, params string) string {
	if strings.Contains(url, "?") {
		return url + "&" + params
	}
	return url + "?" + params
}

// newBenchPGWaitCmd samples what a database's backends wait for (the
// sampler of `bench pipeline --nodes`) until stdin closes, then prints the
// counts: scripts/bench-two-nodes.sh runs it beside smtp-source.
func newBenchPGWaitCmd() *cobra.Command {
	var url string
	var top int
	c := &cobra.Command{
		Use:    "pgwait",
		Short:  "Sample a PostgreSQL database's waits every 100 ms until stdin closes (for the bench scripts)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := startWaitSampler(url, 100*time.Millisecond)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, os.Stdin)
			s.finish()
			s.print(cmd.OutOrStdout(), top)
			return nil
		},
	}
	c.Flags().StringVar(&url, "store", "", "postgres:// URL of the database")
	c.Flags().IntVar(&top, "top", 15, "how many kinds of wait to print")
	return c
}
