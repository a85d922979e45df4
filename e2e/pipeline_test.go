package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/auth/dnstest"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// The pipeline scenarios run the daemon in-process with its own DNS
// resolver pointed (--dns) at a real DNS server on 127.0.0.1 that answers
// at once, or holds the queries of chosen names until the test releases
// them: a resolver that never answers, until it does.

func startDNS(t *testing.T) *dnstest.Server {
	t.Helper()
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func TestDaemonSlowDNSDelaysOnlyItsEmailAndKeepsTheOrder(t *testing.T) {
	dns := startDNS(t)
	dns.Hold(func(name string) bool { return strings.HasSuffix(name, "slow.test") })
	p := startInProcessAt(t, t.TempDir(), gateway.Options{}, "--dns", dns.Addr)
	support := []string{"support@example.test"}
	// The first email opens a conversation, but its sender's DNS hangs; the
	// second replies to it. Four unrelated customers write meanwhile.
	p.send(t, "ann@slow.test", support, email("s1@slow.test", []string{"From: Ann <ann@slow.test>", "Subject: broken"}, "It broke."))
	p.send(t, "bob@fast.test", support, email("r2@fast.test", []string{"From: Bob <bob@fast.test>", "Subject: Re: broken",
		"In-Reply-To: <s1@slow.test>", "References: <s1@slow.test>"}, "Same here."))
	for i := range 4 {
		p.send(t, fmt.Sprintf("c%d@f%d.test", i, i), support, email(fmt.Sprintf("o%d@f.test", i),
			[]string{fmt.Sprintf("From: c%d@f%d.test", i, i), "Subject: other"}, "hello"))
	}
	for i := range 4 {
		if e := p.entry(t, fmt.Sprintf("o%d@f.test", i)); !strings.HasPrefix(e.Action, "created conversation") {
			t.Errorf("unrelated email %d: %q", i, e.Action)
		}
	}
	es, err := journal.Query(context.Background(), p.d.DB, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	waiting := 0
	for _, e := range es {
		if e.MessageID == "<s1@slow.test>" || e.MessageID == "<r2@fast.test>" {
			waiting++
			if e.ThreadBy != "" {
				t.Fatalf("%s processed while the first email's DNS hangs: %q", e.MessageID, e.Action)
			}
		}
	}
	if waiting != 2 {
		t.Fatalf("%d journal entries for the two waiting emails, want 2", waiting)
	}
	// Both wait in the pending list, which the operator can read.
	r := runCLI(t, nil, nil, "inbound", "list", "--pending", "--data", p.dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, "ann@slow.test") || !strings.Contains(r.Stdout, "bob@fast.test") {
		t.Errorf("inbound list: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	dns.Release()
	first, second := p.entry(t, "s1@slow.test"), p.entry(t, "r2@fast.test")
	if first.Conversation == "" || second.Conversation != first.Conversation || second.ThreadBy != "references" {
		t.Fatalf("first %q in %q; reply %q in %q by %q", first.Action, first.Conversation, second.Action, second.Conversation, second.ThreadBy)
	}
	ms := p.messages(t, first.Conversation)
	if len(ms) != 2 || ms[0].Original != first.StoredID || ms[1].Original != second.StoredID {
		t.Errorf("conversation %s = %+v, want the first email then the reply", first.Conversation, ms)
	}
}

func TestBacklogOverTheBoundGets451AndLosesNothing(t *testing.T) {
	dns := startDNS(t)
	dns.Hold(func(string) bool { return true })
	p := startInProcessAt(t, t.TempDir(), gateway.Options{}, "--dns", dns.Addr, "--max-pending", "3",
		"--dns-budget", "5m", "--lmtp-addr", "127.0.0.1:0")
	support := []string{"support@example.test"}
	for i := range 3 {
		p.send(t, fmt.Sprintf("c%d@b%d.test", i, i), support, email(fmt.Sprintf("b%d@b.test", i), []string{fmt.Sprintf("From: c%d@b%d.test", i, i)}, "hi"))
	}
	want451 := func(proto string, err error) {
		t.Helper()
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code != 451 || se.EnhancedCode != (smtp.EnhancedCode{4, 3, 2}) || !strings.Contains(se.Message, "try again later") {
			t.Errorf("%s over the bound: %v, want 451 4.3.2", proto, err)
		}
	}
	c, err := dialSMTP(p.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	want451("SMTP", c.Mail("late@b.test", nil))
	c.Close()

	conn, err := net.DialTimeout("tcp", p.d.Addrs["lmtp"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	lc := smtp.NewClientLMTP(conn)
	if err := lc.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	want451("LMTP", lc.Mail("late@b.test", nil))
	lc.Close()

	r := runCLI(t, strings.NewReader("Subject: x\r\n\r\nbody\r\n"), nil, "deliver", "--data", p.dir, "--domain", "example.test",
		"-f", "late@b.test", "support@example.test")
	if r.Code != 75 {
		t.Errorf("deliver over the bound: exit %d (%s), want 75 (EX_TEMPFAIL)", r.Code, r.Stderr)
	}

	dns.Release()
	for i := range 3 {
		if e := p.entry(t, fmt.Sprintf("b%d@b.test", i)); e.Conversation == "" {
			t.Errorf("email %d: %q", i, e.Action)
		}
	}
	// Under the bound again, mail is taken.
	p.send(t, "late@b.test", support, email("late@b.test", []string{"From: late@b.test"}, "now"))
	p.entry(t, "late@b.test")
}

// The data folder runs out of space after emails were answered 250 and
// before they were processed; once it has room again every one ends in its
// conversation and none is "failed". It needs a tmpfs (root).
func TestDiskFullForAWhileLosesNothing(t *testing.T) {
	bboltOnly(t) // on PostgreSQL: TestDatabaseLostUnderLoad
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", dir).CombinedOutput(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("mount a tmpfs data folder: %v %s (CI runs as root: a skip would hide this test)", err, out)
		}
		t.Skipf("mount a tmpfs data folder: %v %s (needs root)", err, out)
	}
	// Cleanups run last registered first: the daemon (registered below)
	// stops before the folder is unmounted.
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	dns := startDNS(t)
	dns.Hold(func(string) bool { return true })
	// The write-ahead log's files are written with zeros ahead of their
	// records, so a full disk fails commits only once the log needs room
	// it does not have: its smallest size (two files of 1 MiB) and emails
	// whose conversations' messages take more than that between them
	// (1.5 MB of text; checkpoints cannot write bbolt while the disk is
	// full) make the pipeline's commits meet the full disk.
	p := startInProcessAt(t, dir, gateway.Options{}, "--dns", dns.Addr, "--dns-budget", "5m", "--store-log-size", "1MiB")
	support := []string{"support@example.test"}
	body := strings.Repeat("A long question about the invoice, written out over many lines.\n", 2300)
	for i := range 10 {
		p.send(t, fmt.Sprintf("c%d@d%d.test", i, i), support, email(fmt.Sprintf("d%d@d.test", i), []string{fmt.Sprintf("From: c%d@d%d.test", i, i)}, body))
	}
	pendingBefore := metric(t, p, `deskmail_inbound_processed_total{result="pending"}`)
	filler := filepath.Join(dir, "filler")
	fill(t, filler)
	dns.Release()
	waitfor.Until(t, lineTimeout, "a commit fails while the disk is full", func() bool {
		return metric(t, p, `deskmail_inbound_processed_total{result="pending"}`) > pendingBefore
	})
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if e := p.entry(t, fmt.Sprintf("d%d@d.test", i)); !strings.HasPrefix(e.Action, "created conversation") {
			t.Errorf("email %d: %q", i, e.Action)
		}
	}
	r := runCLI(t, nil, nil, "inbound", "list", "--data", p.dir, "--json")
	if r.Code != 0 || strings.TrimSpace(r.Stdout) != "[]" {
		t.Errorf("left pending or failed: %s %s", r.Stdout, r.Stderr)
	}
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// metric reads one sample from the daemon's /metrics over its control
// socket (0 when absent).
func metric(t *testing.T, p *inProcess, name string) float64 {
	t.Helper()
	sock := filepath.Join(p.dir, gateway.SocketName)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	resp, err := client.Get("http://deskmail/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// With the daemon stopped, `deskmail inbound` works on the data folder:
// a failed email is listed, re-queued (journaled) and left pending for
// the next start.
func TestInboundListAndRetryOffline(t *testing.T) {
	bboltOnly(t) // it fails an email in the bbolt file directly
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.example.test"}
	rc, err := recv.Receive(context.Background(), inbound.Envelope{MailFrom: "ann@client.test", Rcpts: []string{"support@example.test"}, Proto: "ESMTP"},
		strings.NewReader("From: ann@client.test\r\nSubject: stuck\r\nMessage-ID: <stuck@client.test>\r\n\r\nhello\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		st, err := inbound.Claim(tx, rc.ID, "n/1", time.Now(), time.Minute, nil)
		if err != nil {
			return err
		}
		return inbound.Fail(tx, rc.ID, "n/1", st.Fence, "the step crashed", time.Now())
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, nil, "inbound", "list", "--failed", "--data", dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, rc.ID) || !strings.Contains(r.Stdout, "the step crashed") {
		t.Fatalf("inbound list --failed: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCLI(t, nil, nil, "inbound", "retry", "--failed", "--data", dir)
	if r.Code != 0 || !strings.Contains(r.Stdout, rc.ID+": pending") {
		t.Fatalf("inbound retry --failed: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCLI(t, nil, nil, "inbound", "list", "--pending", "--json", "--data", dir)
	if !strings.Contains(r.Stdout, `"state": "pending"`) {
		t.Errorf("after retry: %s", r.Stdout)
	}
	r = runCLI(t, nil, nil, "log", "--json", "--data", dir, "--hours", "1")
	if !strings.Contains(r.Stdout, "re-queued by an operator") {
		t.Errorf("the retry is not journaled: %s", r.Stdout)
	}
	if r := runCLI(t, nil, nil, "inbound", "retry", "--data", dir); r.Code == 0 {
		t.Error("retry without an ID or --failed succeeded")
	}
}

// The load tool runs end to end (a small run; the figures are in
// docs/PERFORMANCE.md).
func TestBenchPipelineRuns(t *testing.T) {
	r := runCLI(t, nil, nil, "bench", "pipeline", "--messages", "30", "--sessions", "3", "--dns-delay", "1ms")
	if r.Code != 0 || !strings.Contains(r.Stdout, "30 emails in their conversations") || !strings.Contains(r.Stdout, "p99") {
		t.Errorf("bench pipeline: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}

// `bench pipeline --nodes 2` runs two `deskmail serve` processes on one
// database and counts every email in its conversation whichever node
// committed it, with each node's CPU and the database's profile.
func TestBenchPipelineTwoNodesRuns(t *testing.T) {
	url := pgtest.NewDatabase(t)
	r := runCLI(t, nil, nil, "bench", "pipeline", "--messages", "40", "--sessions", "4", "--dns-delay", "1ms",
		"--nodes", "2", "--store", url)
	for _, want := range []string{"nodes 2", "40 emails in their conversations (0 refused)", "node 1: CPU", "node 2: CPU",
		"database:", "transactions committed"} {
		if r.Code != 0 || !strings.Contains(r.Stdout, want) {
			t.Fatalf("bench pipeline --nodes 2: no %q: %d\n%s%s", want, r.Code, r.Stdout, r.Stderr)
		}
	}
	if r := runCLI(t, nil, nil, "bench", "pipeline", "--messages", "5", "--nodes", "2"); r.Code == 0 || !strings.Contains(r.Stderr, "--store") {
		t.Errorf("--nodes without a store: %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
}
