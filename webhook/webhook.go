// Package webhook tells the web app about new inbound messages (SPEC
// section 5: "the web app is told (webhook, retried until it succeeds)").
//
// Enqueue writes a durable outbox record in the caller's transaction, so
// the job exists if and only if the message it announces was committed.
// A Worker POSTs each record as JSON to the configured URL, signed with
// HMAC-SHA256 (see Sign), and retries with exponential backoff and jitter
// until the receiver answers 2xx. Delivery is at least once: a receiver
// dedupes on the event ID.
//
// The outbox is a stand-in for the hold queue: when the queue lands, a
// webhook job becomes a queue job and Enqueue keeps its signature.
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

	"github.com/deskmail/deskmail/store"
)

const bucket = "webhook_outbox"

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

// record is an outbox entry.
type record struct {
	Event     Event     `json:"event"`
	Attempts  int       `json:"attempts"`
	NextTry   time.Time `json:"next_try"`
	LastError string    `json:"last_error,omitempty"`
}

// Enqueue stores e for delivery, in the caller's transaction. e.ID and
// e.Time must be set; the ID orders the outbox, so use store.NewID.
func Enqueue(tx *store.Tx, e Event) error {
	if e.ID == "" || e.Time.IsZero() {
		return fmt.Errorf("webhook: event needs an ID and a time")
	}
	b, err := json.Marshal(record{Event: e, NextTry: e.Time})
	if err != nil {
		return err
	}
	return tx.Put(bucket, []byte(e.ID), b)
}

// Pending counts the events not yet delivered.
func Pending(db *store.DB) (n int, err error) {
	err = db.View(func(tx *store.Tx) error { n = tx.Count(bucket); return nil })
	return n, err
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
