package e2e

import (
	"context"
	"fmt"
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
// It takes minutes (the pipeline of today's code runs on every node over
// the same pending emails, one at a time), so it runs once, in the suite's
// PostgreSQL pass (make test runs both passes).
func TestTwoNodesBurstWithANodeKilled(t *testing.T) {
	if !onPostgres() {
		t.Skip("runs in the PostgreSQL pass of the suite (DESKMAIL_TEST_STORE=postgres), which make test runs too")
	}
	const total, sessions = 1000, 10
	url := pgtest.NewDatabase(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	useStore(dirA, url)
	useStore(dirB, url)
	// Loopback is a trusted relay: the sender checks' DNS (the public
	// internet, out of a test's reach) stays out of the burst.
	flags := []string{"--trusted-relay", "127.0.0.1/32"}
	a := startDaemon(t, dirA, flags...)
	b := startDaemon(t, dirB, flags...)
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
	a2 := startDaemon(t, dirA, flags...)
	addrA.Store(a2.SMTP)
	wg.Wait()

	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	ctx := context.Background()
	count := func(sql string) int {
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
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
