package inbound

import (
	"context"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// Record is one unfinished email as `deskmail inbound list` shows it.
type Record struct {
	ID        string    `json:"id"`
	State     string    `json:"state"` // pending, failed, or attention
	Received  time.Time `json:"received"`
	From      string    `json:"from,omitempty"`
	Subject   string    `json:"subject,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Size      int64     `json:"size"`
	Attempts  int       `json:"attempts"`
	Next      time.Time `json:"next,omitzero"`
	Reason    string    `json:"reason,omitempty"`
	Owner     string    `json:"owner,omitempty"`
	Lease     time.Time `json:"lease,omitzero"`
	Failed    time.Time `json:"failed,omitzero"`
}

// Which of List.
const (
	ListPending = "pending"
	ListFailed  = "failed"
	// ListAttention: the processed emails that were kept for operators
	// instead of being acted on (journal.Entry.Attention), newest first.
	ListAttention = "attention"
)

// Attention returns up to max emails the journal marks as needing an
// operator's attention, newest first, as Records with the reason.
func Attention(ctx context.Context, db *store.DB, max int) ([]Record, error) {
	es, err := journal.Query(ctx, db, journal.Filter{Direction: journal.In, Attention: true, Limit: max})
	out := []Record{}
	for _, e := range es {
		out = append(out, Record{ID: e.StoredID, State: ListAttention, Received: e.Time, From: e.From,
			Subject: e.Subject, MessageID: e.MessageID, Size: e.Size, Reason: e.Attention})
	}
	return out, err
}

// List returns up to max unfinished emails, oldest first: the pending
// ones, the failed ones, or both (which "").
func List(tx *store.Tx, which string, max int) ([]Record, error) {
	out := []Record{} // "[]", not "null", in JSON
	for _, b := range []struct{ bucket, state string }{{bucketPending, ListPending}, {bucketFailed, ListFailed}} {
		if which != "" && which != b.state {
			continue
		}
		err := tx.Scan(b.bucket, nil, func(k, v []byte) (bool, error) {
			var st State
			if err := decodeState(v, &st); err != nil {
				return false, fmt.Errorf("decode state of %s: %w", k, err)
			}
			r := Record{ID: string(k), State: b.state, Size: st.Size, Attempts: st.Attempts, Next: st.Next,
				Reason: st.Reason, Owner: st.Owner, Lease: st.Until, Failed: st.Failed}
			if mv := tx.Get(bucketMeta, k); mv != nil {
				var m Meta
				if err := decodeMeta(mv, &m); err == nil {
					r.Received, r.From, r.Subject, r.MessageID = m.Received, m.From, m.Subject, m.MessageID
					if r.Size == 0 {
						r.Size = m.Size
					}
				}
			}
			out = append(out, r)
			return len(out) < max, nil
		})
		if err != nil {
			return nil, err
		}
		if len(out) >= max {
			break
		}
	}
	return out, nil
}
