package queue

import (
	"encoding/json"

	"github.com/deskmail/deskmail/store"
)

// The read views of the operators' console: finished jobs that went
// wrong, what became of one notification, and the live jobs by state.

// MaxFinishedScan bounds how many stored jobs Finished reads, newest
// first, so a page load costs the same however long the history.
const MaxFinishedScan = 20000

// Finished returns the newest jobs in one of the given final states
// (failed, bounced ...), at most limit, newest first.
func Finished(tx *store.Tx, limit int, states ...State) ([]Job, error) {
	want := map[State]bool{}
	for _, s := range states {
		want[s] = true
	}
	var out []Job
	scanned := 0
	err := tx.ScanReverse(bJobs, nil, func(_, v []byte) (bool, error) {
		scanned++
		var j Job
		if err := json.Unmarshal(v, &j); err != nil {
			return scanned < MaxFinishedScan, nil // an unreadable job is skipped here, as in the log
		}
		if want[j.State] {
			if j.Kind == "" {
				j.Kind = KindEmail
			}
			out = append(out, j)
		}
		return len(out) < limit && scanned < MaxFinishedScan, nil
	})
	return out, err
}

// DeliveryOf returns what became of person's notification of messageID
// by email: its job and, once the message left the job, the status it
// left with. ok is false when no email was ever planned.
func DeliveryOf(tx *store.Tx, messageID, person string) (d Delivery, ok bool, err error) {
	ok, err = getJSON(tx, bDelivery, pairKey(messageID, person), &d)
	return d, ok, err
}

// Counts returns how many live jobs are in each state.
func Counts(tx *store.Tx) (map[State]int, error) {
	out := map[State]int{}
	err := tx.Scan(bDue, nil, func(k, _ []byte) (bool, error) {
		j, err := GetJob(tx, string(k[8:]))
		if err != nil {
			return false, err
		}
		out[j.State]++
		return true, nil
	})
	return out, err
}
