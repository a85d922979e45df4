package queue

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/jsonrec/jsonrectest"
	"github.com/deskmail/deskmail/jobs"
)

// TestRecordEncodeSameAsJSONMarshal: encodeJSON writes json.Marshal's
// bytes for jobs and deliveries (every field set, generated ones with
// strings that need escapes, broken UTF-8, nil and empty lists, zero
// and large fences), and fails where it fails (a year past 9999).
func TestRecordEncodeSameAsJSONMarshal(t *testing.T) {
	check := func(v any) {
		t.Helper()
		want, werr := json.Marshal(v)
		got, gerr := encodeJSON(v)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodeJSON(%+v)\n got %s (%v)\nwant %s (%v)", v, got, gerr, want, werr)
		}
	}
	// Every field set: a field added to Job or Delivery (or to
	// jobs.Lease) but not to its encoder fails here.
	var full Job
	jsonrectest.Fill(&full, nil)
	check(&full)
	var d Delivery
	jsonrectest.Fill(&d, nil)
	check(d)

	rng := rand.New(rand.NewPCG(26, 5))
	strs := []string{"", "plain", "a\"b\\c\n\t<&>\u2028\u2029", "caf\xc3\xa9", "bad \xff\xfe utf-8", "\x00\x1f"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	list := func() []string {
		switch rng.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		l := make([]string, 1+rng.IntN(20))
		for i := range l {
			l[i] = str()
		}
		return l
	}
	times := []time.Time{{}, time.Date(2026, 12, 7, 20, 0, 0, 123456789, time.UTC),
		time.Date(2026, 12, 7, 20, 0, 0, 0, time.FixedZone("X", 3600+1800)), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	for range 5000 {
		j := Job{ID: str(), Kind: Kind(str()), Person: str(), Conversation: str(), Messages: list(), Dropped: list(),
			State: State(str()), Created: tm(), Updated: tm(), Due: tm(),
			Lease: jobs.Lease{Owner: str(), Fence: []uint64{0, 1, 1 << 63}[rng.IntN(3)], Attempts: rng.IntN(5) - 1, Reason: str(),
				Until: tm(), Next: tm()},
			To: str(), From: str(), MessageID: str(), Subject: str(), noLease: rng.IntN(2) == 0}
		check(&j)
		check(Delivery{Job: str(), Status: str()})
	}
}
