package httpapi

import (
	"sync"
	"testing"
)

func marked(m map[string]any) []string {
	var ids []string
	for _, v := range list(m["marked"]) {
		ids = append(ids, v.(string))
	}
	return ids
}

func sameIDs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestSeenAckIsIdempotent(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	m1, m2, m3 := a.post("c1", "ann", "one"), a.post("c1", "ann", "two"), a.post("c1", "ann", "three")
	internal := a.post("c2", "boss", "internal note")
	ack := func(person, conv, upTo string) map[string]any {
		t.Helper()
		return a.must(200, "POST", "/v1/seen", map[string]any{"person": person, "conversation": conv, "up_to": upTo})
	}
	cases := []struct {
		name          string
		person, upTo  string
		want          []string
		unknownMarked bool
	}{
		{"marks every message up to the one named", "agent", m2, []string{m1, m2}, false},
		{"the same ack again marks nothing", "agent", m2, nil, false},
		{"an older message marks nothing", "agent", m1, nil, false},
		{"a later one marks the rest", "agent", m3, []string{m3}, false},
		{"an unknown message is not an error", "agent", "zzzz-no-such-message", nil, true},
		{"a message of another conversation marks nothing", "agent", internal, nil, true},
		{"a person with nothing pending is not an error", "ann", m3, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := ack(c.person, "c1", c.upTo)
			if !sameIDs(marked(got), c.want) || (got["unknown_message"] == true) != c.unknownMarked || got["marked"] == nil {
				t.Errorf("marked %v (%v), want %v", marked(got), got, c.want)
			}
		})
	}
	if in := a.must(200, "GET", "/v1/people/agent/notifications", nil); in["unread"] != float64(1) {
		t.Errorf("agent's unread = %v, want 1 (the internal note only)", in["unread"])
	}
	if in := a.must(200, "GET", "/v1/people/boss/notifications", nil); in["unread"] != float64(3) {
		t.Errorf("boss's unread = %v: another person's ack must not touch it", in["unread"])
	}
}

// Acks sent at once (several tabs of one person) mark each message once.
func TestConcurrentSeenAcksMarkEachMessageOnce(t *testing.T) {
	a := newMessagingAPI(t)
	a.helpdesk()
	var last string
	for range 5 {
		last = a.post("c1", "ann", "x")
	}
	var mu sync.Mutex
	total := 0
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			code, m := a.call("POST", "/v1/seen", map[string]any{"person": "boss", "conversation": "c1", "up_to": last})
			if code != 200 {
				t.Errorf("ack: %d %v", code, m)
			}
			mu.Lock()
			total += len(marked(m))
			mu.Unlock()
		})
	}
	wg.Wait()
	if total != 5 {
		t.Errorf("16 identical acks marked %d messages in all, want 5", total)
	}
}
