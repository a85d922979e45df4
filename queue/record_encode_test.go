package queue

import (
	"bytes"
	"encoding/json"
	"fmt"
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

// BenchmarkRecordEncode writes what a seen-ack of the seen-ack
// benchmark's held emails writes in the queue (a job of 20 messages, half
// of them dropped, and a delivery), by encodeJSON and by json.Marshal.
func BenchmarkRecordEncode(b *testing.B) {
	at := time.Date(2026, 12, 7, 20, 0, 0, 123456789, time.UTC)
	j := &Job{ID: "0000018f3c2a1b000000000001", Kind: KindEmail, Person: "u12", Conversation: "c7",
		State: StateHeld, Created: at, Updated: at, Due: at.Add(time.Hour), To: "u12@example.test", Subject: "question 7"}
	for i := range 20 {
		id := fmt.Sprintf("0000018f3c2a1b%012d", i)
		if i < 10 {
			j.Dropped = append(j.Dropped, id)
		} else {
			j.Messages = append(j.Messages, id)
		}
	}
	d := Delivery{Job: j.ID, Status: "cancelled (seen)"}
	for _, enc := range []struct {
		name string
		f    func(any) ([]byte, error)
	}{{"fast", encodeJSON}, {"encoding-json", json.Marshal}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, v := range []any{j, d} {
					if _, err := enc.f(v); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
