package loopguard

import (
	"encoding/json"
	"time"
)

// ScanKV is the storage the caps' pruning needs: *store.Tx provides it.
type ScanKV interface {
	KV
	Scan(bucket string, from []byte, fn func(k, v []byte) (bool, error)) error
	Delete(bucket string, key []byte) error
}

// CapBuckets are the buckets the caps keep their counts in, for pruning.
var CapBuckets = []string{bucketConversationCap, bucketRecipientCap}

// PruneCaps deletes, from bucket, the counts whose latest event is before
// before: they can no longer hold or refuse anything (every window is far
// shorter than the log's retention, which the daemon passes). It reads at
// most max keys from from on and returns the key to go on from next time
// (nil when it reached the end), so that a pass over a large bucket is
// spread over many short commits.
func PruneCaps(kv ScanKV, bucket string, from []byte, before time.Time, max int) (deleted int, next []byte, err error) {
	var doomed [][]byte
	seen := 0
	err = kv.Scan(bucket, from, func(k, v []byte) (bool, error) {
		if seen >= max {
			next = append([]byte(nil), k...)
			return false, nil
		}
		seen++
		var st capState
		if json.Unmarshal(v, &st) != nil || len(st.Times) == 0 || st.Times[len(st.Times)-1].Before(before) {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return true, nil
	})
	if err != nil {
		return 0, nil, err
	}
	for _, k := range doomed {
		if err := kv.Delete(bucket, k); err != nil {
			return 0, nil, err
		}
	}
	return len(doomed), next, nil
}
