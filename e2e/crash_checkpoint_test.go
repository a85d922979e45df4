package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCrashDuringCheckpointsLosesNothing SIGKILLs the daemon on bbolt
// several times, each after a random number of 250s, with a log so small
// (1 MiB files, a checkpoint at every 512 KiB or 20 ms) that checkpoints
// run all the time: kills land during appends, during checkpoints, between
// a checkpoint's commit and the next epoch's first record, and during the
// recovery's own replay of the previous run. At the end every email
// answered 250 in any run is in the log exactly once and processed (its
// pipeline action is neither pending nor failed).
func TestCrashDuringCheckpointsLosesNothing(t *testing.T) {
	bboltOnly(t)
	const (
		rounds  = 6
		senders = 6
		maxEach = 2000
	)
	dir := t.TempDir()
	walArgs := []string{"--store-log-size", "1MiB", "--store-checkpoint-interval", "20ms"}
	var (
		mu    sync.Mutex
		acked []string
	)
	for round := range rounds {
		d := startDaemon(t, dir, walArgs...)
		killAfter := int64(20 + rand.IntN(400))
		var (
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
					t.Errorf("round %d sender %d: connect: %v", round, g, err)
					return
				}
				defer c.Close()
				for i := range maxEach {
					id := fmt.Sprintf("<ckpt-%d-%d-%d@client.test>", round, g, i)
					err := send(c, "customer@client.test", []string{"support@example.test"}, message(id, "checkpoint crash", 1<<10+rand.IntN(12<<10)))
					if err != nil {
						if !killed.Load() {
							t.Errorf("round %d sender %d: %s refused before the kill: %v", round, g, id, err)
						}
						return
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
			t.Fatalf("round %d: only %d messages acknowledged within 60s", round, nAcked.Load())
		}
		killed.Store(true)
		d.kill()
		waitGroup(t, &wg, 30*time.Second, "senders after the kill")
		if t.Failed() {
			return
		}
		t.Logf("round %d: SIGKILL after %d acknowledged", round, nAcked.Load())
	}

	d := startDaemon(t, dir, walArgs...)
	mu.Lock()
	ackedIDs := append([]string(nil), acked...)
	mu.Unlock()
	check := func(how string, es []logEntry) (unprocessed int) {
		t.Helper()
		n := receivedByMessageID(es)
		action := map[string]string{}
		for _, e := range es {
			if e.Direction == "in" {
				action[e.MessageID] = e.Action
			}
		}
		for _, id := range ackedIDs {
			if n[id] != 1 {
				t.Errorf("%s: %s was answered 250 but is in the log %d times, want 1", how, id, n[id])
			}
			if a := action[id]; a == "" || strings.HasPrefix(a, "pending") || strings.HasPrefix(a, "failed") {
				unprocessed++
			}
		}
		for id, k := range n {
			if k > 1 {
				t.Errorf("%s: %s is in the log %d times", how, id, k)
			}
		}
		return unprocessed
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		left := check("log through the running daemon", readLog(t, dir))
		if left == 0 || t.Failed() {
			break
		}
		if time.Now().After(deadline) {
			kinds := map[string]int{}
			for _, e := range readLog(t, dir) {
				if e.Direction == "in" {
					kinds[e.Status+" "+e.Action[:min(len(e.Action), 40)]]++
				}
			}
			t.Logf("log entries by status and action: %v", kinds)
			t.Fatalf("%d of %d acknowledged emails not processed after 60s", left, len(ackedIDs))
		}
		time.Sleep(200 * time.Millisecond) // polls the real daemon's pipeline
	}
	d.stop()
	if left := check("log read from the stopped data folder", readLog(t, dir)); left != 0 {
		t.Errorf("after a clean stop: %d acknowledged emails not processed", left)
	}
	t.Logf("%d acknowledged over %d SIGKILLs: each stored once and processed", len(ackedIDs), rounds)
}
