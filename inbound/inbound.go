// Package inbound takes a message from any entry point (SMTP, LMTP,
// `deskmail deliver`, the HTTP API) and makes it durable: envelope, raw
// bytes and received time are committed to the store, with the message's
// journal entry, before Receive returns. Only then may the caller answer
// 250. Everything after that (classify, thread, notify) works from the
// stored copy and can be resumed after a crash: stored messages sit in a
// pending index until the pipeline has finished with them.
//
// Receive reads the data once. The header block is capped before anything
// parses it; the body streams through a hash and into a buffer that spills
// to a fsynced spool file past SpillBytes, so a large message is never held
// in memory, and a small one only once.
package inbound

import (
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Envelope is what the client said around the message.
type Envelope struct {
	MailFrom string   `json:"mail_from"` // "" is the null reverse path
	Rcpts    []string `json:"rcpts"`
	RemoteIP string   `json:"remote_ip,omitempty"`
	Helo     string   `json:"helo,omitempty"`
	Proto    string   `json:"proto"` // SMTP, ESMTPS, LMTP, deliver, http...
}

// Limits bound what one message may cost.
type Limits struct {
	MaxMessageBytes int64 // whole message, as received
	MaxHeaderBytes  int   // the header block, before any parser sees it
	SpillBytes      int   // past this the message goes to a spool file
}

// DefaultLimits are the limits used when a field is zero.
var DefaultLimits = Limits{
	MaxMessageBytes: 25 << 20,
	MaxHeaderBytes:  256 << 10,
	SpillBytes:      256 << 10,
}

// Errors Receive returns for messages it refuses. They are permanent: the
// sender should not retry the same bytes.
var (
	ErrTooLarge       = errors.New("message exceeds the size limit")
	ErrHeaderTooLarge = errors.New("message header exceeds the size limit")
	ErrNoRecipients   = errors.New("message has no recipients")
)

// TempError wraps a failure of ours (disk, store): the sender should retry.
type TempError struct{ Err error }

func (e *TempError) Error() string { return "temporary failure: " + e.Err.Error() }
func (e *TempError) Unwrap() error { return e.Err }

// Receipt says what Receive stored.
type Receipt struct {
	ID        string // the stored message's ID
	Duplicate bool   // the same message was already stored: nothing new
	MessageID string // the Message-ID header
	JournalID string
	Size      int64
	// CommitWait is how long the durable commit took (what the client
	// waits for between its final "." and our 250).
	CommitWait time.Duration
}

// Meta is the stored record of an inbound message (bucket "inbound").
type Meta struct {
	ID        string    `json:"id"`
	Received  time.Time `json:"received"`
	Envelope  Envelope  `json:"envelope"`
	Size      int64     `json:"size"`
	MessageID string    `json:"message_id,omitempty"`
	From      string    `json:"from,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	BodyHash  string    `json:"body_hash"`
	Spooled   bool      `json:"spooled,omitempty"` // raw bytes are in the spool file named ID
	JournalID string    `json:"journal_id"`

	// Filled by the pipeline after the 250.
	Class   string          `json:"class,omitempty"`
	Reasons []string        `json:"reasons,omitempty"`
	Bounce  json.RawMessage `json:"bounce,omitempty"`
}

// Buckets of this package.
const (
	bucketMeta       = "inbound"
	bucketRaw        = "inbound_raw"
	bucketPending    = "inbound_pending"
	bucketDedupe     = "inbound_dedupe"
	bucketDedupeTime = "inbound_dedupe_time"
)

// fieldCap bounds header values copied into records and the journal.
const fieldCap = 998

func clip(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
	if len(s) > fieldCap {
		s = s[:fieldCap]
	}
	return strings.TrimSpace(s)
}
