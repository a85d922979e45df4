// Package journal is the incoming and outgoing email log that
// `deskmail log --hours 72` shows: one Entry per email (or per refused
// attempt), kept for a retention period and then pruned.
//
// Entries live in one bbolt bucket keyed by their time (8 bytes, big-endian
// nanoseconds) and a sequence number, so a time range is a cursor seek and
// pruning walks the oldest keys first. The hex of the key is the entry's ID
// and the cursor of a --follow reader.
package journal

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/deskmail/deskmail/store"
)

const bucket = "journal"

// Direction of an email.
type Direction string

const (
	In  Direction = "in"
	Out Direction = "out"
)

// Incoming statuses.
const (
	StatusReceived = "received"
	StatusRejected = "rejected"
)

// Outgoing statuses: every change of an outgoing email's state appends an
// entry, so the log holds its history (SPEC section 9).
const (
	StatusHeld       = "held"       // waiting for the hold to end unseen
	StatusQueued     = "queued"     // a system email, due at once (no hold)
	StatusCancelled  = "cancelled"  // not sent; Reason says why ("seen", "retracted" ...)
	StatusSending    = "sending"    // leased by a sender, an attempt is under way
	StatusSent       = "sent"       // accepted by the next hop; Reason is its reply
	StatusDeferred   = "deferred"   // temporary failure; Reason and NextAttempt
	StatusBounced    = "bounced"    // a DSN came back for it
	StatusFailed     = "failed"     // permanent failure, or too old to retry
	StatusSuppressed = "suppressed" // the address hard-bounced too often
	StatusCaptured   = "captured"   // written to the capture folder instead of sent
)

// Statuses lists every status, incoming then outgoing (`deskmail log
// --status` takes one of them).
var Statuses = []string{StatusReceived, StatusRejected, StatusHeld, StatusQueued, StatusCancelled,
	StatusSending, StatusSent, StatusDeferred, StatusBounced, StatusFailed, StatusSuppressed, StatusCaptured}

// Entry is one line of the log.
type Entry struct {
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	Direction    Direction `json:"direction"`
	Status       string    `json:"status"`
	Reason       string    `json:"reason,omitempty"`
	MessageID    string    `json:"message_id,omitempty"`
	StoredID     string    `json:"stored_id,omitempty"`
	EnvelopeFrom string    `json:"envelope_from"`
	EnvelopeTo   []string  `json:"envelope_to,omitempty"`
	From         string    `json:"from,omitempty"`
	Subject      string    `json:"subject,omitempty"`
	Size         int64     `json:"size,omitempty"`
	RemoteIP     string    `json:"remote_ip,omitempty"`
	Proto        string    `json:"proto,omitempty"`
	// Via names a fetched message's mailbox and UID ("IMAP support:
	// INBOX uid 42"); empty for mail delivered to deskmail.
	Via     string   `json:"via,omitempty"`
	Class   string   `json:"class,omitempty"`
	Reasons []string `json:"reasons,omitempty"`
	Action  string   `json:"action,omitempty"`
	// Threading of inbound human mail: the conversation it went to, how
	// it was matched (token, references, subject, new, none) and the
	// Authentication-Results the sender checks computed (RFC 8601 form).
	Conversation string `json:"conversation,omitempty"`
	ThreadBy     string `json:"thread_by,omitempty"`
	Auth         string `json:"auth,omitempty"`
	// Unverified: the author's From failed authentication (no aligned
	// SPF or DKIM pass); what it became is marked so too.
	Unverified bool `json:"unverified,omitempty"`

	// Outgoing emails (the hold queue): the queue job, the person it is
	// for (and Conversation above), the messages it lists and, for
	// "deferred", when the next attempt is due. Incoming human mail uses
	// Person and Messages too: the person it was posted as (or, refused,
	// whose identity it claimed) and the message it became; Action names
	// people by name and address, these keep the ids.
	Job         string     `json:"job,omitempty"`
	Person      string     `json:"person,omitempty"`
	Messages    []string   `json:"messages,omitempty"`
	NextAttempt *time.Time `json:"next_attempt,omitempty"`

	// Attention, when set, says why an operator should look at this
	// email: it was kept and not acted on, for instance an email whose
	// author is ambiguous ("ambiguous author: 2 From fields") or one too
	// complex to read ("too complex: ..."). The console's log marks it;
	// `deskmail inbound list --attention` lists it.
	Attention string `json:"attention,omitempty"`
}

// NeedsAttention marks e for operators with why, keeping an earlier
// reason: the first one found is the one that stopped the email.
func (e *Entry) NeedsAttention(why string) {
	if e.Attention == "" {
		e.Attention = why
	}
}

// ErrNotFound is returned for an unknown entry ID.
var ErrNotFound = errors.New("journal: no such entry")

func key(t time.Time, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// ParseID turns an entry ID back into its key.
func ParseID(id string) ([]byte, error) {
	k, err := hex.DecodeString(id)
	if err != nil || len(k) != 16 {
		return nil, fmt.Errorf("journal: bad entry id %q", id)
	}
	return k, nil
}

// AppendReads names what Append reads (a sequence value and the last
// key), so a batch of writes fetches it at once (store.Reads).
func AppendReads() []store.UpdateOption {
	return []store.UpdateOption{store.Draws(bucket, 1), store.ReadsLast(bucket)}
}

// Append adds e (its Time must be set) and fills in e.ID.
func Append(tx *store.Tx, e *Entry) error {
	seq, err := tx.Sequence(bucket)
	if err != nil {
		return err
	}
	k := key(e.Time, seq)
	// Keys must grow in commit order, or a --follow reader whose cursor has
	// passed a key would never see an entry committed later with a smaller
	// one (a message that began before another but committed after it, or
	// a clock step back). The sequence keeps such a key unique.
	if last := tx.LastKey(bucket); last != nil && bytes.Compare(k, last) <= 0 {
		copy(k[:8], last[:8])
	}
	e.ID = hex.EncodeToString(k)
	// Its sequence number makes the key new: on PostgreSQL a plain
	// INSERT, not an upsert.
	tx.Absent(bucket, k)
	v, err := encodeEntry(e)
	if err != nil {
		return fmt.Errorf("encode journal entry: %w", err)
	}
	return tx.Put(bucket, k, v)
}

// Reads names the entries that Update will read (store.Reads); ids that
// are not entry IDs are left out.
func Reads(ids ...string) store.UpdateOption {
	var keys [][]byte
	for _, id := range ids {
		if k, err := ParseID(id); err == nil {
			keys = append(keys, k)
		}
	}
	return store.Reads(bucket, keys...)
}

// Update rewrites the entry with the given ID through fn.
func Update(tx *store.Tx, id string, fn func(*Entry)) error {
	k, err := ParseID(id)
	if err != nil {
		return err
	}
	v := tx.Get(bucket, k)
	if v == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var e Entry
	if err := decodeEntry(v, &e); err != nil {
		return fmt.Errorf("decode journal entry %s: %w", id, err)
	}
	fn(&e)
	e.ID = id
	nv, err := encodeEntry(&e)
	if err != nil {
		return fmt.Errorf("encode journal entry: %w", err)
	}
	return tx.Put(bucket, k, nv)
}

// follow is Query for a --follow reader on a shared store: the entries
// after f.After in commit order, oldest first, at most f.Limit of them.
// On PostgreSQL nodes append side by side, so an entry can commit after
// one with a larger key; store.ScanCommitted hands them out so that none
// is passed over (a reader may see entries out of key order).
func follow(db *store.DB, f Filter) ([]Entry, error) {
	after, err := ParseID(f.After)
	if err != nil {
		return nil, err
	}
	var floor []byte
	if !f.Since.IsZero() {
		floor = key(f.Since, 0)
	}
	var out []Entry
	for len(out) < f.Limit {
		n := 0
		err := db.ScanCommitted(bucket, after, followPage, func(k, v []byte) error {
			n++
			after = append(after[:0:0], k...)
			if floor != nil && bytes.Compare(k, floor) < 0 {
				return nil
			}
			var e Entry
			if decodeEntry(v, &e) != nil {
				return nil // an unreadable entry is skipped, not fatal
			}
			e.ID = hex.EncodeToString(k)
			if f.Match(&e) && len(out) < f.Limit {
				out = append(out, e)
			}
			return nil
		})
		if err != nil {
			return out, err
		}
		if n < followPage {
			return out, nil
		}
	}
	return out, nil
}

// followPage is how many entries a follower reads per round trip.
const followPage = 500

// Filter selects entries. Zero fields match everything.
type Filter struct {
	Since     time.Time
	After     string // an entry ID: only entries after it (for --follow)
	Direction Direction
	Status    string
	Class     string
	Address   string // case-insensitive substring of any sender or recipient
	Attention bool   // only entries that need an operator's attention
	Limit     int    // the newest Limit matches (default 1000)
}

// Match tells whether e passes the filter (apart from Since/After).
func (f Filter) Match(e *Entry) bool {
	if f.Direction != "" && e.Direction != f.Direction {
		return false
	}
	if f.Status != "" && !strings.EqualFold(e.Status, f.Status) {
		return false
	}
	if f.Class != "" && !strings.EqualFold(e.Class, f.Class) {
		return false
	}
	if f.Attention && e.Attention == "" {
		return false
	}
	if f.Address != "" {
		a := strings.ToLower(f.Address)
		hit := strings.Contains(strings.ToLower(e.EnvelopeFrom), a) ||
			strings.Contains(strings.ToLower(e.From), a)
		for _, t := range e.EnvelopeTo {
			hit = hit || strings.Contains(strings.ToLower(t), a)
		}
		if !hit {
			return false
		}
	}
	return true
}

// Query returns the newest Limit entries that match f, oldest first.
func Query(ctx context.Context, db *store.DB, f Filter) ([]Entry, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	if f.After != "" && db.Shared() {
		return follow(db, f)
	}
	var floor []byte
	if !f.Since.IsZero() {
		floor = key(f.Since, 0)
	}
	if f.After != "" {
		k, err := ParseID(f.After)
		if err != nil {
			return nil, err
		}
		if floor == nil || string(k) >= string(floor) {
			floor = k
		}
	}
	var out []Entry
	err := db.View(ctx, func(tx *store.Tx) error {
		return tx.ScanReverse(bucket, nil, func(k, v []byte) (bool, error) {
			if floor != nil && string(k) < string(floor) {
				return false, nil
			}
			if f.After != "" && hex.EncodeToString(k) == f.After {
				return false, nil
			}
			var e Entry
			if err := decodeEntry(v, &e); err != nil {
				return true, nil // an unreadable entry is skipped, not fatal
			}
			e.ID = hex.EncodeToString(k)
			if f.Match(&e) {
				out = append(out, e)
			}
			return len(out) < f.Limit, nil
		})
	})
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, err
}

func init() { store.KnownSequences(bucket, auditBucket) }
