package e2e

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/store/pgtest"
)

// Two nodes whose store goes through PgBouncer in transaction mode (the
// test's own, started in the foreground), with --store-direct for their
// LISTEN connections: a seen-ack on node B cancels node A's held email
// and the hold queue emails the other once (leases), and emails accepted
// over SMTP on both nodes are each stored and processed once (accept,
// the pipeline's claims and commits). Meanwhile the database sees no
// more connections than the bouncer's pool and one LISTEN per node,
// where each node alone opens about two dozen.
func TestTwoNodesThroughPgBouncer(t *testing.T) {
	bouncer := pgtest.StartBouncer(t)
	direct := pgtest.NewDatabase(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	useStore(dirA, bouncer.URL(direct))
	useStore(dirB, bouncer.URL(direct))
	sink := newSMTPSink(t)
	args := []string{"--outbound", "relay", "--relay", sink.addr, "--relay-insecure", "--hold", "2s",
		"--store-direct", direct, "--trusted-relay", "127.0.0.1/32"}
	a := startDaemon(t, dirA, args...)
	b := startDaemon(t, dirB, args...)

	seenAckOnTheOtherNode(t, a, b, sink)

	const total = 40
	for i := 1; i <= total; i++ {
		addr := a.SMTP
		if i%2 == 0 {
			addr = b.SMTP
		}
		if err := sendVia(addr, i, burstMessage(i, fmt.Sprintf("<pooled-%d@client.test>", i))); err != nil {
			t.Fatalf("email %d: %v", i, err)
		}
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, direct)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	count := func(sql string) int {
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	waitfor.Until(t, lineTimeout, "no email is pending", func() bool {
		return count(`SELECT count(*) FROM kv WHERE bucket = 'inbound_pending'`) == 0
	})
	if n := count(`SELECT count(*) FROM (SELECT message_id FROM deskmail_log WHERE direction = 'in' AND status = 'received' AND message_id LIKE '<pooled-%' GROUP BY message_id HAVING count(*) = 1) AS once`); n != total {
		t.Errorf("%d of %d emails stored exactly once", n, total)
	}
	// One conversation per email, and c1 of the seen-ack part.
	if n := count(`SELECT count(*) FROM kv WHERE bucket = 'conversations'`); n != total+1 {
		t.Errorf("%d conversations, want %d (one per email, and c1)", n, total+1)
	}
	// The bouncer's pool, one LISTEN per node, and this test's connection.
	if n := pgtest.ServerConnections(t, direct); n > pgtest.BouncerPoolSize+3 {
		t.Errorf("the database has %d connections; two nodes through the bouncer should need at most %d", n, pgtest.BouncerPoolSize+3)
	} else {
		t.Logf("the database has %d connections for two nodes (pool %d)", n, pgtest.BouncerPoolSize)
	}
}
