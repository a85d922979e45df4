package httpapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// BenchmarkSeen measures POST /v1/seen over loopback: a real listener, a
// real bbolt file, every ack committed with fsync before its 200.
// Conversations of len messages by a customer notify users who follow
// them; acks walk through the messages in order, so every ack marks a
// notification not yet seen (marked/ack says how many it did mark on
// average). clients=1 is one web app connection sending acks one after
// another; clients=16 is sixteen at once, each for its own person, which
// the store's group commit lets share fsyncs. len=1000 shows what a long
// conversation costs: model.MarkSeen reads every message of the
// conversation up to the one acknowledged (docs/PERFORMANCE.md).
//
//	go test -run '^$' -bench BenchmarkSeen -benchtime 3000x ./httpapi
func BenchmarkSeen(b *testing.B) {
	for _, c := range []struct{ clients, len int }{{1, 20}, {16, 20}, {1, 1000}} {
		b.Run(fmt.Sprintf("clients=%d/len=%d", c.clients, c.len), func(b *testing.B) { benchSeen(b, c.clients, c.len, false) })
	}
	// Every ack a repeat of one its person made before the timer: nothing
	// to mark (answered from the read where the store's reads are
	// durable, else after a commit).
	b.Run("clients=16/len=20/repeated", func(b *testing.B) { benchSeen(b, 16, 20, true) })
}

// BenchmarkSeenPostgres is BenchmarkSeen on the PostgreSQL store (a
// database of its own). hold=true wires the hold queue as the daemon
// does: every (person, conversation) has a held email that each ack
// shrinks and the last one cancels (the daemon's whole seen-ack path).
// Besides acks/s it reports the CPU per ack of this process (server and
// clients together: cpu-us/ack) and of the PostgreSQL backends serving
// the benchmark's database (pg-cpu-us/ack; WAL writer, checkpointer and
// autovacuum not included), which a shared machine's wall clock does not
// blur, and the commits of the acks (acks/commit: how many acks shared
// one; commit-us: one's mean time, flush included). token=person posts
// each ack with its person's token, as the browser does (client.js),
// instead of the API token:
//
//	go test -run '^$' -bench BenchmarkSeenPostgres -benchtime 3000x ./httpapi
//
// DESKMAIL_BENCH_COMMITTERS=N sets store.Options.Committers (default 4).
// DESKMAIL_BENCH_CPUPROFILE=FILE writes a CPU profile of each
// sub-benchmark's acks (FILE.<name>), without the seeding.
// DESKMAIL_BENCH_MEMPROFILE=FILE writes the allocation profile before and
// after each sub-benchmark's acks (FILE.<name>.0 and .1; go tool pprof
// -base FILE.<name>.0 FILE.<name>.1 shows the acks' own).
// DESKMAIL_BENCH_PGOPTS adds PostgreSQL options to the benchmark's
// connections (the URL's options parameter, escaped: -c%20name%3Dvalue).
// DESKMAIL_BENCH_LOG_STATEMENTS=1 has PostgreSQL log every statement of
// the benchmark's connections (log_min_duration_statement=0), to count
// them per ack in the server's log.
// On PostgreSQL the rows the acks' commits sent are reported by kind
// (del/ack, ins/ack, ups/ack, upd/ack: store.DB.RowsSent).
// DESKMAIL_BENCH_PGSTATS=1 also reports the WAL the cluster wrote per
// ack (wal-B/ack, wal-rec/ack: pg_stat_wal, which counts the whole
// cluster, so run it on a cluster of its own: DESKMAIL_TEST_PG) and the
// statements per ack of the benchmark's database (stmts/ack, from
// pg_stat_statements, when the server preloads it), and logs the WAL's
// positions before and after the acks (for pg_waldump). =reset also
// empties pg_stat_statements before the acks, so that it then lists the
// acks' statements alone (the seeding's gone).
func BenchmarkSeenPostgres(b *testing.B) {
	for _, c := range []struct {
		clients, len  int
		hold, persons bool
	}{{1, 20, false, false}, {16, 20, false, false}, {16, 20, true, false}, {16, 20, true, true}} {
		name := fmt.Sprintf("clients=%d/len=%d/hold=%v", c.clients, c.len, c.hold)
		if c.persons {
			name += "/token=person"
		}
		b.Run(name, func(b *testing.B) {
			defer labelServer()()
			url := pgtest.NewDatabase(b)
			open := url
			if os.Getenv("DESKMAIL_BENCH_LOG_STATEMENTS") != "" {
				open += "&options=-c%20log_min_duration_statement%3D0" + os.Getenv("DESKMAIL_BENCH_PGOPTS")
			} else if o := os.Getenv("DESKMAIL_BENCH_PGOPTS"); o != "" {
				open += "&options=" + o
			}
			committers, _ := strconv.Atoi(os.Getenv("DESKMAIL_BENCH_COMMITTERS"))
			var commits commitStats
			db, err := store.OpenPostgres(context.Background(), open, b.TempDir(), store.Options{Committers: committers, Observe: commits.observe})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			pg := newPGCPU(b, url)
			defer pg.close()
			benchSeenOn(b, c.clients, c.len, c.hold, c.persons, false, db, pg, &commits)
		})
	}
}

func benchSeen(b *testing.B, clients, convLen int, repeat bool) {
	defer labelServer()()
	var commits commitStats
	db, err := store.Open(b.TempDir(), store.Options{Observe: commits.observe})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	benchSeenOn(b, clients, convLen, false, false, repeat, db, nil, &commits)
}

// Profile labels tell the daemon's CPU from the benchmark clients' in
// DESKMAIL_BENCH_CPUPROFILE (go tool pprof -tags, -tagfocus
// side=server): goroutines inherit their creator's labels, so what the
// benchmark's goroutine starts before its clients (the store's committers
// and pools, the HTTP server's accept loop and its handlers, the ack
// batcher they start) is side=server, the clients and their transport's
// connections side=client. The GC's background workers have none (GC
// assists count for the goroutine that allocates).
func sideLabel(side string) context.Context {
	return pprof.WithLabels(context.Background(), pprof.Labels("side", side))
}

// labelServer labels the calling goroutine side=server; the function
// returned takes the label off.
func labelServer() func() {
	pprof.SetGoroutineLabels(sideLabel("server"))
	return func() { pprof.SetGoroutineLabels(context.Background()) }
}

// commitStats counts the store's commits (store.Options.Observe).
type commitStats struct {
	n, nanos atomic.Int64
}

func (c *commitStats) observe(d time.Duration, batch int, err error) {
	c.n.Add(1)
	c.nanos.Add(int64(d))
}

func (c *commitStats) reset() {
	if c != nil {
		c.n.Store(0)
		c.nanos.Store(0)
	}
}

func benchSeenOn(b *testing.B, clients, convLen int, hold, persons, repeat bool, db *store.DB, pg *pgCPU, commits *commitStats) {
	people := clients
	clk := clock.Real{}
	msgs := &messaging.Service{DB: db, Clock: clk, Hub: messaging.NewHub()}
	var q *queue.Queue
	if hold {
		q = &queue.Queue{Clock: clk, HoldFor: time.Hour}
		msgs.OnNotify, msgs.OnSeen, msgs.SeenPlan = q.Hold, q.SeenAck, q.SeenPlan
	}
	// Ack i is person i%people's, for the (i/people)th message overall.
	convs := seedPending(b, db, people, b.N/people+1, convLen, q)
	s := &Server{DB: db, Token: token, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Messaging: msgs}
	// Each client's bearer: the API token (the web app's server acking for
	// its people), or its person's token (the browser acking for itself,
	// as client.js does).
	bearer := make([]string, people)
	for p := range bearer {
		bearer[p] = token
	}
	if persons {
		withPersonTokens(s)
		err := db.Update(context.Background(), func(tx *store.Tx) error {
			for p := range bearer {
				var err error
				if bearer[p], _, err = s.PersonTokens.Mint(tx, "u"+strconv.Itoa(p), time.Hour); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(s.Handler(false))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients * 2}}
	defer client.CloseIdleConnections()
	before := unread(b, db, people)

	var next atomic.Int64
	ack := func() bool {
		i := int(next.Add(1) - 1)
		j := i / people
		if repeat {
			j = 0 // the first message of c0, acked before the timer
		}
		body := fmt.Sprintf(`{"person":"u%d","conversation":"c%d","up_to":%q}`, i%people, j/convLen, convs[j/convLen][j%convLen])
		req, _ := http.NewRequest("POST", srv.URL+"/v1/seen", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+bearer[i%people])
		resp, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Errorf("POST /v1/seen: %d", resp.StatusCode)
			return false
		}
		return true
	}
	if repeat {
		for range people {
			if !ack() {
				return
			}
		}
		before = unread(b, db, people)
	}
	// RunParallel starts GOMAXPROCS x parallelism goroutines.
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((clients + procs - 1) / procs)
	b.ResetTimer()
	stopProfile := profileAcks(b)
	memProfile(b, "0")
	commits.reset()
	cpu0, pg0 := processCPU(), pg.cpu()
	st0 := pg.stats(true)
	rows0 := db.RowsSent()
	start := time.Now()
	if clients == 1 {
		pprof.SetGoroutineLabels(sideLabel("client"))
		defer pprof.SetGoroutineLabels(sideLabel("server"))
		for range b.N {
			if !ack() {
				return
			}
		}
	} else {
		b.RunParallel(func(pb *testing.PB) {
			pprof.SetGoroutineLabels(sideLabel("client"))
			for pb.Next() {
				if !ack() {
					return
				}
			}
		})
	}
	elapsed := time.Since(start)
	cpu, pgc := processCPU()-cpu0, pg.cpu()-pg0
	st1 := pg.stats(false)
	rows1 := db.RowsSent()
	stopProfile()
	memProfile(b, "1")
	b.StopTimer()
	if os.Getenv("DESKMAIL_BENCH_LOG_STATEMENTS") != "" {
		const logTime = "2006-01-02 15:04:05.000 MST" // log_line_prefix's %m
		b.Logf("acks from %s to %s", start.UTC().Format(logTime), start.Add(elapsed).UTC().Format(logTime))
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acks/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-us/ack")
	if pg != nil {
		b.ReportMetric(float64(pgc.Microseconds())/float64(b.N), "pg-cpu-us/ack")
		// The rows the acks' commits sent, by kind (store.DB.RowsSent):
		// each costs the server an index probe at least.
		n := float64(b.N)
		b.ReportMetric(float64(rows1.Deletes-rows0.Deletes)/n, "del/ack")
		b.ReportMetric(float64(rows1.Inserts-rows0.Inserts)/n, "ins/ack")
		b.ReportMetric(float64(rows1.Upserts-rows0.Upserts)/n, "ups/ack")
		b.ReportMetric(float64(rows1.Updates-rows0.Updates)/n, "upd/ack")
		b.ReportMetric(float64(rows1.Reads-rows0.Reads)/n, "reads/ack")
		if st0 != nil && st1 != nil {
			b.ReportMetric(float64(st1.walBytes-st0.walBytes)/float64(b.N), "wal-B/ack")
			b.ReportMetric(float64(st1.walRecords-st0.walRecords)/float64(b.N), "wal-rec/ack")
			if st1.calls > 0 {
				b.ReportMetric(float64(st1.calls-st0.calls)/float64(b.N), "stmts/ack")
			}
			// For pg_waldump --stats=record -s FROM -e TO: the WAL's
			// records by kind (HOT or not, index inserts, full pages).
			b.Logf("WAL of the acks: %s to %s", st0.lsn, st1.lsn)
		}
	}
	b.ReportMetric(float64(before-unread(b, db, people))/float64(b.N), "marked/ack")
	if commits != nil {
		b.ReportMetric(float64(commits.n.Load())/float64(b.N), "commits/ack")
	}
	if commits != nil && commits.n.Load() > 0 {
		// Commits of the timed part: how many acks share one (every ack
		// here marks something), and how long one takes from its BEGIN to
		// its answer (flush included).
		n := float64(commits.n.Load())
		b.ReportMetric(float64(b.N)/n, "acks/commit")
		b.ReportMetric(float64(commits.nanos.Load())/n/1e3, "commit-us")
		// The share of the time a commit was on its way (commits of
		// acks are one at a time): 1 when the acks wait only for
		// commits, less when a commit waits for its read or its acks.
		b.ReportMetric(float64(commits.nanos.Load())/float64(elapsed.Nanoseconds()), "commit-busy")
	}
}

// seedPending stores n messages by a customer, convLen per external
// conversation c0, c1..., each notifying users u0..u(people-1), who
// follow them. It returns the message IDs by conversation, in order. It
// writes through the model directly, in large transactions: posting one
// by one would take longer than the benchmark itself.
func seedPending(b *testing.B, db *store.DB, people, n, convLen int, q *queue.Queue) [][]string {
	b.Helper()
	ctx := context.Background()
	nconv := (n + convLen - 1) / convLen
	err := db.Update(ctx, func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "cust", Kind: notify.KindCustomer, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		followers := []string{"cust"}
		for i := range people {
			id := "u" + strconv.Itoa(i)
			if err := model.PutPerson(tx, model.Person{ID: id, Kind: notify.KindUser, Settings: notify.DefaultSettings()}); err != nil {
				return err
			}
			followers = append(followers, id)
		}
		for c := range nconv {
			if err := model.PutConversation(tx, &model.Conversation{ID: "c" + strconv.Itoa(c), Kind: model.External, Followers: followers}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Now()
	convs := make([][]string, nconv)
	for c := range convs {
		convs[c] = make([]string, convLen)
		for k := range convs[c] {
			convs[c][k] = store.NewID(t0.Add(time.Duration(c*convLen+k) * time.Microsecond)) // sorted as posted
		}
	}
	for c, ids := range convs {
		const batch = 500
		for lo := 0; lo < len(ids); lo += batch {
			err := db.Update(ctx, func(tx *store.Tx) error {
				for _, id := range ids[lo:min(lo+batch, len(ids))] {
					m := model.Message{ID: id, Conversation: "c" + strconv.Itoa(c), Author: "cust", Channel: model.ChannelWeb, Text: "pending", Created: t0}
					if err := model.AppendMessage(tx, &m); err != nil {
						return err
					}
					for p := range people {
						n := model.Notification{Person: "u" + strconv.Itoa(p), Message: id, Conversation: m.Conversation, Reason: "bench", Created: t0}
						if err := model.AddNotification(tx, n); err != nil {
							return err
						}
						if q != nil {
							if err := q.Hold(tx, n); err != nil {
								return err
							}
						}
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	return convs
}

func unread(b *testing.B, db *store.DB, people int) int {
	total := 0
	err := db.View(context.Background(), func(tx *store.Tx) error {
		for p := range people {
			_, n, err := model.Inbox(tx, "u"+strconv.Itoa(p), 0)
			if err != nil {
				return err
			}
			total += n
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return total
}

// profileAcks starts a CPU profile of the acks alone (not the seeding,
// which -cpuprofile counts too) when DESKMAIL_BENCH_CPUPROFILE names a
// file (the sub-benchmark's name is appended); the function returned
// stops it.
func profileAcks(b *testing.B) func() {
	base := os.Getenv("DESKMAIL_BENCH_CPUPROFILE")
	if base == "" {
		return func() {}
	}
	f, err := os.Create(base + "." + strings.NewReplacer("/", "_", "=", "").Replace(b.Name()))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}

// memProfile writes the allocation profile so far to
// DESKMAIL_BENCH_MEMPROFILE.<name>.<suffix>, if that is set.
func memProfile(b *testing.B, suffix string) {
	base := os.Getenv("DESKMAIL_BENCH_MEMPROFILE")
	if base == "" {
		return
	}
	f, err := os.Create(base + "." + strings.NewReplacer("/", "_", "=", "").Replace(b.Name()) + "." + suffix)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	runtime.GC() // the profile counts allocations up to the last GC
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// pgCPU sums the CPU time of the PostgreSQL backends connected to one
// database (read from /proc: the server must run on this machine).
type pgCPU struct {
	b    *testing.B
	conn *pgx.Conn
}

func newPGCPU(b *testing.B, url string) *pgCPU {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	return &pgCPU{b: b, conn: conn}
}

func (p *pgCPU) close() { p.conn.Close(context.Background()) }

// pgStats are the cluster's WAL so far and the statements run in the
// benchmark's database (DESKMAIL_BENCH_PGSTATS).
type pgStats struct {
	walBytes, walRecords, calls int64
	lsn                         string
}

// stats reads pgStats, or nil unless DESKMAIL_BENCH_PGSTATS is set;
// calls stays 0 without pg_stat_statements. The queries themselves are
// counted too: two statements per call, none in the timed part.
func (p *pgCPU) stats(before bool) *pgStats {
	mode := os.Getenv("DESKMAIL_BENCH_PGSTATS")
	if p == nil || mode == "" {
		return nil
	}
	ctx := context.Background()
	var s pgStats
	if err := p.conn.QueryRow(ctx, `SELECT wal_bytes::bigint, wal_records, pg_current_wal_insert_lsn()::text FROM pg_stat_wal`).Scan(&s.walBytes, &s.walRecords, &s.lsn); err != nil {
		p.b.Fatal(err)
	}
	if _, err := p.conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_stat_statements`); err == nil {
		if before && mode == "reset" {
			_, _ = p.conn.Exec(ctx, `SELECT pg_stat_statements_reset()`)
		}
		_ = p.conn.QueryRow(ctx, `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&s.calls)
	}
	return &s
}

// userHZ is the unit of /proc/PID/stat's times on Linux.
const userHZ = 100

// cpu is the backends' CPU time so far; a backend that ended since the
// last call is not counted (the store's pools keep theirs open).
func (p *pgCPU) cpu() time.Duration {
	if p == nil {
		return 0
	}
	rows, err := p.conn.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()`)
	if err != nil {
		p.b.Fatal(err)
	}
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		p.b.Fatal(err)
	}
	var ticks int64
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// The fields after the command, which is in parentheses and may
		// hold spaces: utime and stime are the 12th and 13th of them.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += ut + st
	}
	return time.Duration(ticks) * time.Second / userHZ
}
