package loopguard

import (
	"sort"
	"strings"
	"testing"
	"time"
)

// memKV is a KV in memory for the caps' unit tests; the daemon's is
// *store.Tx, exercised by the gateway and e2e tests.
type memKV map[string][]byte

func (m memKV) Get(b string, k []byte) []byte { return m[b+"/"+string(k)] }
func (m memKV) Put(b string, k, v []byte) error {
	m[b+"/"+string(k)] = append([]byte(nil), v...)
	return nil
}

func TestConversationCap(t *testing.T) {
	c := ConversationCap{Cap{Max: 3, Window: 30 * time.Minute}}
	kv := memKV{}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	count := func(sender string, lastReply, at time.Time) bool {
		t.Helper()
		hold, reason, err := c.Count(kv, "conv1", sender, lastReply, at)
		if err != nil {
			t.Fatal(err)
		}
		if hold && !strings.Contains(reason, "ping-pong cap") {
			t.Errorf("reason %q", reason)
		}
		return hold
	}
	for i := 0; i < 3; i++ {
		if count("Robot@Desk.example", time.Time{}, t0.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("message %d held, the cap is 3", i+1)
		}
	}
	if !count("robot@desk.example", time.Time{}, t0.Add(3*time.Minute)) {
		t.Fatal("the 4th message within the window was not held")
	}
	if count("ann@customer.example", time.Time{}, t0.Add(3*time.Minute)) {
		t.Error("another sender was held: the cap is per sender")
	}
	// A person's reply in between: only what came after it counts.
	if count("robot@desk.example", t0.Add(4*time.Minute), t0.Add(5*time.Minute)) {
		t.Error("held although a person replied just before")
	}
	// Outside the window the count starts again.
	if count("robot@desk.example", time.Time{}, t0.Add(2*time.Hour)) {
		t.Error("held after the window passed")
	}
	if len(kv) != 2 {
		t.Errorf("%d keys, want one per (conversation, sender)", len(kv))
	}
	for k, v := range kv {
		if len(v) > 300 {
			t.Errorf("%s holds %d bytes: the state must stay at Max+1 times", k, len(v))
		}
	}
}

func TestRecipientCap(t *testing.T) {
	c := RecipientCap{Cap{Max: 2, Window: time.Hour}}
	kv := memKV{}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i, want := range []bool{true, true, false, false} {
		ok, reason, err := c.Allow(kv, "Desk@Other.example", t0.Add(time.Duration(i)*time.Minute))
		if err != nil || ok != want {
			t.Fatalf("email %d: ok=%v (%v), want %v", i+1, ok, err, want)
		}
		if !ok && !strings.Contains(reason, "per-recipient cap: 2 automatic emails to desk@other.example") {
			t.Errorf("reason %q", reason)
		}
	}
	// Refused emails are not counted: an hour after the first, one may go.
	if ok, _, _ := c.Allow(kv, "desk@other.example", t0.Add(61*time.Minute)); !ok {
		t.Error("still refused an hour after the first email")
	}
	if ok, _, _ := (RecipientCap{}).Allow(kv, "x@y", t0); !ok {
		t.Error("a zero cap must allow everything")
	}
}

// scanKV adds Scan and Delete to memKV, in key order, for PruneCaps.
type scanKV struct{ memKV }

func (s scanKV) Scan(b string, from []byte, fn func(k, v []byte) (bool, error)) error {
	var keys []string
	for k := range s.memKV {
		if strings.HasPrefix(k, b+"/") && k[len(b)+1:] >= string(from) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if more, err := fn([]byte(k[len(b)+1:]), s.memKV[k]); err != nil || !more {
			return err
		}
	}
	return nil
}

func (s scanKV) Delete(b string, k []byte) error { delete(s.memKV, b+"/"+string(k)); return nil }

func TestPruneCaps(t *testing.T) {
	kv := scanKV{memKV{}}
	c := RecipientCap{Cap{Max: 5, Window: time.Hour}}
	t0 := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	for i, addr := range []string{"a@x", "b@x", "c@x"} {
		if _, _, err := c.Allow(kv, addr, t0.Add(time.Duration(i)*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// Two keys per pass: a and b first (both last used before the
	// cut), then c (after it).
	n, next, err := PruneCaps(kv, bucketRecipientCap, nil, t0.Add(90*time.Minute), 2)
	if err != nil || n != 2 || string(next) != "c@x" {
		t.Fatalf("first pass: %d deleted, next %q, %v", n, next, err)
	}
	n, next, err = PruneCaps(kv, bucketRecipientCap, next, t0.Add(90*time.Minute), 2)
	if err != nil || n != 0 || next != nil {
		t.Fatalf("second pass: %d deleted, next %q, %v", n, next, err)
	}
	if len(kv.memKV) != 1 || kv.memKV[bucketRecipientCap+"/c@x"] == nil {
		t.Errorf("keys left %v, want c only", kv.memKV)
	}
}
