package e2e

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashLosesNothing sends mail from several sessions, SIGKILLs the
// daemon while they are still sending, restarts it on the same data folder
// and checks that every message that was answered 250 is in the log exactly
// once: through the running daemon (control socket) and, after a clean
// stop, from the data folder itself. A client that retries after a lost 250
// must not create a second entry.
func TestCrashLosesNothing(t *testing.T) {
	const (
		senders   = 8
		killAfter = 300 // acknowledged messages before the SIGKILL
		maxEach   = 2000
	)
	dir := t.TempDir()
	d := startDaemon(t, dir)

	ackedIDs := sendUntilKilled(t, d, senders, maxEach, killAfter, "", func(g, i int) (string, int) {
		return fmt.Sprintf("<crash-%d-%d@client.test>", g, i), 5 << 10
	})
	if t.Failed() {
		return
	}
	t.Logf("%d messages acknowledged before and during the SIGKILL", len(ackedIDs))

	d = startDaemon(t, dir)
	dupID := "<retry-after-lost-250@client.test>"
	retry := message(dupID, "sent twice", 5<<10)
	sendOne(t, d.SMTP, retry)
	sendOne(t, d.SMTP, retry) // the client never saw the first 250

	check := func(how string, es []logEntry) {
		t.Helper()
		n := receivedByMessageID(es)
		for _, id := range ackedIDs {
			if n[id] != 1 {
				t.Errorf("%s: %s was answered 250 but is in the log %d times, want 1", how, id, n[id])
			}
		}
		for id, k := range n {
			if k > 1 {
				t.Errorf("%s: %s is in the log %d times", how, id, k)
			}
		}
		if n[dupID] != 1 {
			t.Errorf("%s: a retried message is in the log %d times, want 1", how, n[dupID])
		}
	}
	check("log through the running daemon", readLog(t, dir))
	d.stop()
	check("log read from the stopped data folder", readLog(t, dir))
}

// sendUntilKilled sends from senders sessions at once, at most maxEach
// messages each (next gives a message's Message-ID and size), SIGKILLs d
// once killAfter of them were answered 250, waits for the senders to see
// the connection go, and returns the Message-IDs answered 250. A refusal
// before the kill fails the test (what names the round in its errors).
func sendUntilKilled(t *testing.T, d *daemon, senders, maxEach int, killAfter int64, what string, next func(g, i int) (string, int)) []string {
	t.Helper()
	var (
		mu     sync.Mutex
		acked  []string
		nAcked atomic.Int64
		killed atomic.Bool
		enough = make(chan struct{})
		once   sync.Once
		wg     sync.WaitGroup
	)
	for g := range senders {
		wg.Go(func() {
			c, err := dialSMTP(d.SMTP)
			if err != nil {
				t.Errorf("%ssender %d: connect: %v", what, g, err)
				return
			}
			defer c.Close()
			for i := range maxEach {
				id, size := next(g, i)
				err := send(c, "customer@client.test", []string{"support@example.test"}, message(id, "crash test", size))
				if err != nil {
					if !killed.Load() {
						t.Errorf("%ssender %d: message %s refused before the kill: %v", what, g, id, err)
					}
					return // the connection is gone with the daemon
				}
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
				if nAcked.Add(1) >= killAfter {
					once.Do(func() { close(enough) })
				}
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(60 * time.Second):
		t.Fatalf("%sonly %d messages acknowledged within 60s", what, nAcked.Load())
	}
	killed.Store(true)
	d.kill()
	waitGroup(t, &wg, 30*time.Second, what+"senders after the kill")
	mu.Lock()
	defer mu.Unlock()
	return acked
}

// waitGroup waits for wg, failing the test after timeout.
func waitGroup(t *testing.T, wg *sync.WaitGroup, timeout time.Duration, what string) {
	t.Helper()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
		t.Fatalf("%s did not finish within %v", what, timeout)
	}
}
