package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/store/pgtest"
)

// A burst of 1,000 emails over two nodes on one database, node A
// SIGKILLed in the middle and started again: every email answered 250 is
// stored once and processed once (one conversation each), and nothing is
// left pending. A session that loses node A sends its email again to node
// B, as a sending MTA tries the next MX: an email whose commit on A was
// done but whose 250 was lost is then a duplicate, not a second copy.
//
// Every stored email also notifies two agents who see all customer
// messages, and the notification emails (one held email per person and
// conversation, SPEC section 4, with a one-second hold so that they go
// out during the burst) leave through a relay sink that both nodes use:
// each is sent exactly once, except where node A was sending it when it
// was killed (the relay has it, the "sent" record was never committed, and
// the restarted node A gives its leases back and sends it again). Those
// duplicates are counted and reported; there can be no more of them than
// node A's sends in flight (--queue-concurrency), and none may be missing.
//
// Each node's pipeline claims the emails it processes with a lease and a
// fence in the store, so only one node processes each, and the queue
// leases each due email to one node. The test takes about half a minute
// under the race detector on a quiet 2-core machine, more when it is
// loaded (its waits are bounded in minutes), so it runs once, in the
// suite's PostgreSQL pass (make test runs both passes).
func TestTwoNodesBurstWithANodeKilled(t *testing.T) {
	if !onPostgres() {
		t.Skip("runs in the PostgreSQL pass of the suite (DESKMAIL_TEST_STORE=postgres), which make test runs too")
	}
	const total, sessions = 1000, 10
	// inFlight bounds the notification emails node A can be sending when
	// it is killed: its queue's deliveries at once.
	const inFlight = 8
	url := pgtest.NewDatabase(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	useStore(dirA, url)
	useStore(dirB, url)
	sink := newSMTPSink(t)
	// Loopback is a trusted relay: the sender checks' DNS (the public
	// internet, out of a test's reach) stays out of the burst.
	flags := []string{"--trusted-relay", "127.0.0.1/32",
		"--outbound", "relay", "--relay", sink.addr, "--relay-insecure",
		"--hold", "1s", "--queue-concurrency", fmt.Sprint(inFlight)}
	a := startDaemon(t, dirA, flags...)
	b := startDaemon(t, dirB, flags...)
	// Two agents (one made through each node) see every conversation and
	// are notified of every customer message: each stored email holds one
	// notification email for each of them.
	for i, d := range []*daemon{a, b} {
		api(t, d, "PUT", fmt.Sprintf("/v1/people/agent%d", i), fmt.Sprintf(`{"kind":"user","name":"Agent %d","emails":[%q],`+
			`"settings":{"visibility":"all_projects","from_customers":"all"}}`, i, burstAgents[i]))
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ctx := context.Background()
	count := func(sql string, args ...any) int {
		var n int
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	var addrA atomic.Value
	addrA.Store(a.SMTP)

	var next, sent atomic.Int64
	var mu sync.Mutex
	accepted := map[string]bool{}
	killed := make(chan struct{})
	var wg sync.WaitGroup
	for s := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1))
				if i > total {
					return
				}
				id := fmt.Sprintf("<burst-%d@client.test>", i)
				msg := burstMessage(i, id)
				addr := b.SMTP
				if s%2 == 0 {
					addr = addrA.Load().(string)
				}
				err := sendVia(addr, i, msg)
				if err != nil && addr != b.SMTP {
					err = sendVia(b.SMTP, i, msg) // the next MX
				}
				if err != nil {
					t.Errorf("email %d: not accepted by either node: %v", i, err)
					continue
				}
				mu.Lock()
				accepted[id] = true
				mu.Unlock()
				if sent.Add(1) == total/3 {
					close(killed)
				}
			}
		}()
	}
	<-killed
	a.kill()
	// What node A was sending when killed: its leased jobs, frozen until
	// it starts again and gives them back. Only these can go out twice.
	// (No t.Fatal while the sessions run: they would outlive the test.)
	idA, err := os.ReadFile(filepath.Join(dirA, "node-id"))
	if err != nil {
		t.Error(err)
	}
	var sendingAtKill int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM (SELECT convert_from(value, 'UTF8')::jsonb AS j FROM kv WHERE bucket = 'queue_jobs') AS q
		WHERE j->>'state' = 'sending' AND j->>'lease_owner' = $1`, strings.TrimSpace(string(idA))).Scan(&sendingAtKill)
	if err != nil {
		t.Errorf("node A's leases at the kill: %v", err)
	}
	a2 := startDaemon(t, dirA, flags...)
	addrA.Store(a2.SMTP)
	wg.Wait()
	drain := 8 * time.Minute
	if raceEnabled {
		drain = 25 * time.Minute // the race detector slows the daemons several times
	}
	deadline := time.Now().Add(drain)
	for count(`SELECT count(*) FROM kv WHERE bucket = 'inbound_pending'`) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d emails still pending after %v", count(`SELECT count(*) FROM kv WHERE bucket = 'inbound_pending'`), drain)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rows, err := conn.Query(ctx, `SELECT message_id, count(*) FROM deskmail_log WHERE direction = 'in' AND status = 'received' GROUP BY message_id`)
	if err != nil {
		t.Fatal(err)
	}
	stored := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		stored[id] = n
	}
	rows.Close()
	for id := range accepted {
		if stored[id] != 1 {
			t.Errorf("%s answered 250 and stored %d times", id, stored[id])
		}
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("%s stored %d times", id, n)
		}
	}
	msgs := count(`SELECT count(*) FROM kv WHERE bucket = 'inbound'`)
	convs := count(`SELECT count(*) FROM kv WHERE bucket = 'conversations'`)
	if msgs != len(stored) || convs != msgs {
		t.Errorf("%d stored emails, %d in the log, %d conversations: want one conversation per email", msgs, len(stored), convs)
	}
	t.Logf("processed within %v of the last 250", time.Since(deadline.Add(-drain)).Round(time.Second))
	t.Logf("%d emails answered 250 (%d stored, %d of them committed on A without their 250 reaching the client)", len(accepted), msgs, msgs-len(accepted))

	// The notification emails: every held one out (the queue quiet, so a
	// late second send would be seen too), then counted per question.
	const unsent = `SELECT count(*) FROM deskmail_queue WHERE kind IS DISTINCT FROM 'webhook' AND state IN ('held', 'queued', 'sending')`
	for count(unsent) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d notification emails still held, queued or being sent after %v", count(unsent), drain)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("notification emails out within %v of the last 250", time.Since(deadline.Add(-drain)).Round(time.Second))
	if n := count(`SELECT count(*) FROM deskmail_queue WHERE kind IS DISTINCT FROM 'webhook' AND state <> 'sent'`); n > 0 {
		t.Errorf("%d notification emails neither sent nor pending (failed or cancelled), want none", n)
	}
	if n := count(`SELECT count(*) FROM deskmail_queue WHERE kind IS DISTINCT FROM 'webhook' AND state = 'sent'`); n != len(stored)*len(burstAgents) {
		t.Errorf("%d notification jobs sent for %d stored emails, want one each per agent (%d)", n, len(stored), len(burstAgents))
	}
	if sendingAtKill > inFlight {
		t.Errorf("node A had %d emails leased at the kill, more than its %d deliveries at once", sendingAtKill, inFlight)
	}
	checkBurstNotifications(t, sink, stored, sendingAtKill)
}

// burstAgents are the agents' addresses.
var burstAgents = []string{"agent0@example.test", "agent1@example.test"}

var (
	questionRE = regexp.MustCompile(`\bquestion (\d+)\b`)
	burstIDRE  = regexp.MustCompile(`burst-(\d+)@`)
)

// checkBurstNotifications counts what the relay received per agent and
// stored email's conversation: exactly one email each, a duplicate only
// where node A was sending it when killed (at most inFlight, the emails it
// had leased then), none missing and nothing else.
func checkBurstNotifications(t *testing.T, sink *smtpSink, stored map[string]int, inFlight int) {
	t.Helper()
	type key struct{ to, question string }
	got := map[key]int{}
	mails := sinkMails(t, sink.Mails())
	for _, m := range mails {
		subject := m.msg.Header.Get("Subject")
		q := questionRE.FindStringSubmatch(subject)
		if !slices.Contains(burstAgents, m.to) || q == nil {
			t.Errorf("the relay got an email to %s about %q, want only the agents' notifications", m.to, subject)
			continue
		}
		got[key{m.to, q[1]}]++
	}
	received := len(mails)
	dups, missing := 0, 0
	for id := range stored {
		q := ""
		if m := burstIDRE.FindStringSubmatch(id); m != nil {
			q = m[1]
		}
		for _, to := range burstAgents {
			k := key{to, q}
			switch n := got[k]; {
			case n == 0:
				missing++
				t.Errorf("%s: no notification email to %s reached the relay", id, to)
			case n > 1:
				dups += n - 1
				t.Logf("%s: the relay got the notification email to %s %d times (sent again after the kill)", id, to, n)
			}
			delete(got, k)
		}
	}
	for k, n := range got {
		t.Errorf("the relay got %d emails to %s about question %s, which was never stored", n, k.to, k.question)
	}
	t.Logf("notification emails: %d expected, %d received by the relay, %d duplicates (of %d that node A had leased at the kill), %d missing",
		len(stored)*len(burstAgents), received, dups, inFlight, missing)
	if dups > inFlight {
		t.Errorf("%d duplicate notification emails, more than the %d emails node A had leased at the kill", dups, inFlight)
	}
}

// burstMessage is email i from its own sender (the loop guard's per-sender
// rate limit stays out of it) with its own subject.
func burstMessage(i int, msgID string) []byte {
	return []byte(fmt.Sprintf("From: Customer %d <c%d@client.test>\r\nTo: support@example.test\r\nSubject: question %d\r\nMessage-ID: %s\r\nDate: Mon, 30 Nov 2026 12:00:00 +0000\r\n\r\nHello, this is question %d.\r\n", i, i, i, msgID, i))
}

func sendVia(addr string, i int, msg []byte) error {
	c, err := dialSMTP(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	return send(c, fmt.Sprintf("c%d@client.test", i), []string{"support@example.test"}, msg)
}
