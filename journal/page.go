package journal

import (
	"bytes"
	"context"
	"encoding/hex"
	"strings"

	"github.com/deskmail/deskmail/store"
)

// MaxPageScan bounds how many entries one Page call reads, so a filter
// that matches nothing in a large log still answers quickly; the caller
// gets a cursor to read on.
const MaxPageScan = 50000

// Page returns up to limit entries that match f and the free text (a
// case-insensitive substring of any field an operator reads), newest
// first, older than the entry ID before ("" for the newest). next is the
// cursor of the following (older) page, "" at the end.
func Page(ctx context.Context, db *store.DB, f Filter, text, before string, limit int) (out []Entry, next string, err error) {
	var from []byte
	if before != "" {
		if from, err = ParseID(before); err != nil {
			return nil, "", err
		}
	}
	var floor []byte
	if !f.Since.IsZero() {
		floor = key(f.Since, 0)
	}
	text = strings.ToLower(text)
	addr := strings.ToLower(f.Address)
	scanned, prev := 0, ""
	err = db.View(ctx, func(tx *store.Tx) error {
		return tx.ScanReverse(bucket, from, func(k, v []byte) (bool, error) {
			if floor != nil && string(k) < string(floor) {
				next = ""
				return false, nil
			}
			scanned++
			id := hex.EncodeToString(k)
			if len(out) == limit || scanned > MaxPageScan {
				// One more exists (or the scan budget ran out): the next
				// page starts below the last entry read.
				next = prev
				return false, nil
			}
			prev = id
			if !rawMayMatch(v, text) || !rawMayMatch(v, addr) {
				return true, nil // cheaper than decoding a line that cannot match
			}
			var e Entry
			if decodeEntry(v, &e) != nil {
				return true, nil
			}
			e.ID = id
			if f.Match(&e) && (text == "" || textMatch(&e, text)) {
				out = append(out, e)
			}
			return true, nil
		})
	})
	return out, next, err
}

// rawMayMatch tells whether the encoded entry v may hold the lowercase
// needle: false only when it surely does not. A needle JSON would escape
// (quotes, backslashes, <>&, control or non-ASCII characters) is left to
// the decoded check.
func rawMayMatch(v []byte, needle string) bool {
	if needle == "" {
		return true
	}
	for i := 0; i < len(needle); i++ {
		if c := needle[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return true
		}
	}
	return bytes.Contains(bytes.ToLower(v), []byte(needle))
}

func textMatch(e *Entry, text string) bool {
	for _, s := range []string{e.Subject, e.MessageID, e.Reason, e.Action, e.From, e.EnvelopeFrom,
		strings.Join(e.EnvelopeTo, " "), e.Conversation, e.Job, e.Person, strings.Join(e.Reasons, " "),
		strings.Join(e.Messages, " "), e.RemoteIP, e.Auth, e.Via} {
		if strings.Contains(strings.ToLower(s), text) {
			return true
		}
	}
	return false
}

// Get returns the entry with the given ID.
func Get(ctx context.Context, db *store.DB, id string) (Entry, error) {
	var e Entry
	k, err := ParseID(id)
	if err != nil {
		return e, err
	}
	err = db.View(ctx, func(tx *store.Tx) error {
		v := tx.Get(bucket, k)
		if v == nil {
			return ErrNotFound
		}
		return decodeEntry(v, &e)
	})
	e.ID = id
	return e, err
}
