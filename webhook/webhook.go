// Package webhook tells the web app about new inbound messages (SPEC
// section 5: "the web app is told (webhook, retried until it succeeds)").
//
// Enqueue adds a webhook job to the hold queue (package queue) in the
// caller's transaction, so the job exists if and only if the message it
// announces was committed. The queue's worker hands each due job to a
// Sender, which POSTs the event as JSON to the configured URL, signed with
// HMAC-SHA256 (see Sign); a failed POST is retried with the queue's
// backoff and jitter (DefaultBackoff) until the receiver answers 2xx or
// the queue's maximum age passes, and a sender that crashed mid-POST
// leaves a lease that runs out. Delivery is at least once: a receiver
// dedupes on the event ID, which is also the job's ID.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// Event is what the web app receives.
type Event struct {
	ID           string    `json:"id"`   // unique; the receiver's idempotency key
	Type         string    `json:"type"` // "message.created"
	Conversation string    `json:"conversation"`
	Message      string    `json:"message"`
	Author       string    `json:"author"`
	Channel      string    `json:"channel"`
	NewConv      bool      `json:"new_conversation,omitempty"`
	Time         time.Time `json:"time"`
}

// TypeMessageCreated announces a message appended from an email.
const TypeMessageCreated = "message.created"

// MaxPayload bounds the JSON of one event. An event names its message, it
// does not carry it, so a few hundred bytes is the norm.
const MaxPayload = 16 << 10

// Enqueue adds the webhook job of e to the queue, due at once, in the
// caller's transaction. e.ID and e.Time must be set; use store.NewID, as
// the ID is the job's too.
func Enqueue(tx *store.Tx, e Event) error {
	if e.ID == "" || e.Time.IsZero() {
		return fmt.Errorf("webhook: event needs an ID and a time")
	}
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("webhook: encode event %s: %w", e.ID, err)
	}
	if len(body) > MaxPayload {
		return fmt.Errorf("webhook: event %s is %d bytes, over %d", e.ID, len(body), MaxPayload)
	}
	j := queue.Job{ID: e.ID, Kind: queue.KindWebhook, Conversation: e.Conversation, Created: e.Time}
	if e.Message != "" {
		j.Messages = []string{e.Message}
	}
	if err := queue.Enqueue(tx, j, body); err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	return nil
}

// SignatureHeader carries "t=UNIX,v1=HEX": HMAC-SHA256 over "UNIX.BODY".
// The timestamp inside the MAC lets a receiver refuse old replays.
const SignatureHeader = "X-Deskmail-Signature"

// Sign returns the SignatureHeader value for body sent at t.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a SignatureHeader value, as a receiver would: the MAC must
// match and the timestamp be within tolerance of now.
func Verify(secret, body []byte, header string, now time.Time, tolerance time.Duration) bool {
	var ts, sig string
	for _, kv := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return false
	}
	got, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(got, mac(secret, ts, body))
}
