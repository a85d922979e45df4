package e2e

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/waitfor"
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
	var acked []string
	for round := range rounds {
		d := startDaemon(t, dir, walArgs...)
		killAfter := int64(20 + rand.IntN(400))
		ids := sendUntilKilled(t, d, senders, maxEach, killAfter, fmt.Sprintf("round %d: ", round), func(g, i int) (string, int) {
			return fmt.Sprintf("<ckpt-%d-%d-%d@client.test>", round, g, i), 1<<10 + rand.IntN(12<<10)
		})
		if t.Failed() {
			return
		}
		acked = append(acked, ids...)
		t.Logf("round %d: SIGKILL after %d acknowledged", round, len(ids))
	}

	d := startDaemon(t, dir, walArgs...)
	check := func(how string, es []logEntry) (unprocessed int) {
		t.Helper()
		n := receivedByMessageID(es)
		action := map[string]string{}
		for _, e := range es {
			if e.Direction == "in" {
				action[e.MessageID] = e.Action
			}
		}
		for _, id := range acked {
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
	waitfor.Until(t, 60*time.Second, "every acknowledged email is processed", func() bool {
		if check("log through the running daemon", readLog(t, dir)) == 0 || t.Failed() {
			return true
		}
		return false
	})
	if t.Failed() {
		kinds := map[string]int{}
		for _, e := range readLog(t, dir) {
			if e.Direction == "in" {
				kinds[e.Status+" "+e.Action[:min(len(e.Action), 40)]]++
			}
		}
		t.Fatalf("log entries by status and action: %v", kinds)
	}
	d.stop()
	if left := check("log read from the stopped data folder", readLog(t, dir)); left != 0 {
		t.Errorf("after a clean stop: %d acknowledged emails not processed", left)
	}
	t.Logf("%d acknowledged over %d SIGKILLs: each stored once and processed", len(acked), rounds)
}
