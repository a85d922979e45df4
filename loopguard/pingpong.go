package loopguard

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// KV is the storage the ping-pong caps keep their counts in: a bucket of
// keys and values inside the caller's transaction, so a count and the
// decision it leads to commit together and survive a restart.
// *store.Tx provides it, whatever the backend.
type KV interface {
	Get(bucket string, key []byte) []byte
	Put(bucket string, key, value []byte) error
}

// Buckets of the caps' state.
const (
	bucketConversationCap = "loopguard_conversation_cap"
	bucketRecipientCap    = "loopguard_recipient_cap"
)

// Defaults of the caps; see docs/LOOP-PREVENTION.md.
const (
	DefaultConversationCap    = 5
	DefaultConversationWindow = 30 * time.Minute
	DefaultRecipientCap       = 20
	DefaultRecipientWindow    = time.Hour
)

// Cap is a count of events per key within a sliding window: at most Max
// in any Window. The zero Max turns it off.
type Cap struct {
	Max    int
	Window time.Duration
}

// capState is what a Cap keeps per key: the times of the last events
// within the window, at most Max+1 of them, oldest first.
type capState struct {
	Times []time.Time `json:"times"`
}

// ConversationCap stops the ping-pong that classification misses (two
// helpdesks acknowledging each other with nothing that says "automatic"):
// a conversation that receives more than Max messages from one external
// address within Window, with no reply by a person in between, gets the
// further ones held instead of appended and notified.
type ConversationCap struct{ Cap }

// Count counts one inbound message from sender into conversation at now.
// lastReply is when someone else last posted a person's reply in the
// conversation (zero if never): only messages after it count, so a
// conversation where people answer each other is never held. hold tells
// whether this message must be held; reason says why, for the log.
func (c ConversationCap) Count(kv KV, conversation, sender string, lastReply, now time.Time) (hold bool, reason string, err error) {
	if c.Max <= 0 || conversation == "" || sender == "" {
		return false, "", nil
	}
	sender = strings.ToLower(strings.TrimSpace(sender))
	key := []byte(conversation + "\x00" + sender)
	since := now.Add(-c.Window)
	if lastReply.After(since) {
		since = lastReply
	}
	n, err := c.count(kv, bucketConversationCap, key, since, now)
	if err != nil || n <= c.Max {
		return false, "", err
	}
	return true, fmt.Sprintf("ping-pong cap: %d messages from %s in conversation %s within %s with no reply by a person in between (more than %d): held, nobody notified",
		n, sender, conversation, c.Window, c.Max), nil
}

// RecipientCap bounds the automatic emails deskmail sends to one address
// (Zammad's loop protection does the same): past Max within Window, a
// further one is not sent, so a loop through an outside system that
// classification and the conversation cap both miss still ends.
type RecipientCap struct{ Cap }

// Allow counts one automatic email to addr at now and reports whether it
// may be sent; the refused ones are not counted. reason says why not.
func (c RecipientCap) Allow(kv KV, addr string, now time.Time) (ok bool, reason string, err error) {
	if c.Max <= 0 || addr == "" {
		return true, "", nil
	}
	addr = strings.ToLower(strings.TrimSpace(addr))
	key := []byte(addr)
	st, err := load(kv, bucketRecipientCap, key)
	if err != nil {
		return false, "", err
	}
	st.trim(now.Add(-c.Window))
	if len(st.Times) >= c.Max {
		return false, fmt.Sprintf("per-recipient cap: %d automatic emails to %s within %s already (at most %d): not sent, to break a loop",
			len(st.Times), addr, c.Window, c.Max), nil
	}
	st.Times = append(st.Times, now)
	return true, "", save(kv, bucketRecipientCap, key, st)
}

// count adds an event at now to key's state, forgets the events before
// since, and returns how many are left, this one included.
func (c Cap) count(kv KV, bucket string, key []byte, since, now time.Time) (int, error) {
	st, err := load(kv, bucket, key)
	if err != nil {
		return 0, err
	}
	st.trim(since)
	st.Times = append(st.Times, now)
	n := len(st.Times)
	if max := c.Max + 1; len(st.Times) > max {
		// Enough to know the cap is passed; the state stays small.
		st.Times = st.Times[len(st.Times)-max:]
	}
	return n, save(kv, bucket, key, st)
}

// trim forgets the events before since (and any from the future of a
// clock that was set back, so they cannot pin the count).
func (s *capState) trim(since time.Time) {
	keep := s.Times[:0]
	for _, t := range s.Times {
		if !t.Before(since) {
			keep = append(keep, t)
		}
	}
	s.Times = keep
}

func load(kv KV, bucket string, key []byte) (capState, error) {
	var st capState
	if v := kv.Get(bucket, key); v != nil {
		if err := json.Unmarshal(v, &st); err != nil {
			// A damaged count must not block mail: start again.
			return capState{}, nil
		}
	}
	return st, nil
}

func save(kv KV, bucket string, key []byte, st capState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := kv.Put(bucket, key, b); err != nil {
		return fmt.Errorf("loop guard cap: %w", err)
	}
	return nil
}
