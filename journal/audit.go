package journal

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/store"
)

// The audit trail: who changed what through the operators' console or the
// operators command (a template saved, a system email switched, a job
// retried...), and every refused login. It sits beside the email log, in
// its own bucket keyed like it (time, sequence), because its readers ask a
// different question ("who did this?") and it is kept longer.
const auditBucket = "journal_audit"

// AuditRetention is the least an audit record is kept, whatever the email
// log's retention: an operator asking "who switched this off?" a week
// later must still find the answer.
const AuditRetention = 90 * 24 * time.Hour

// Audit is one operator action or refused login.
type Audit struct {
	ID     string    `json:"id"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`  // the operator, or "cli" for the offline command
	Action string    `json:"action"` // "template.save", "login.failed" ...
	Target string    `json:"target,omitempty"`
	Detail string    `json:"detail,omitempty"`
	IP     string    `json:"ip,omitempty"`
}

// AppendAudit records a (its Time must be set) and fills in a.ID.
func AppendAudit(tx *store.Tx, a *Audit) error {
	seq, err := tx.Sequence(auditBucket)
	if err != nil {
		return err
	}
	k := key(a.Time, seq)
	a.ID = hex.EncodeToString(k)
	v, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("encode audit record: %w", err)
	}
	return tx.Put(auditBucket, k, v)
}

// Audits returns the newest audit records, newest first, at most limit;
// target, when set, keeps only the records about it.
func Audits(tx *store.Tx, limit int, target string) ([]Audit, error) {
	var out []Audit
	err := tx.ScanReverse(auditBucket, nil, func(k, v []byte) (bool, error) {
		var a Audit
		if err := json.Unmarshal(v, &a); err != nil {
			return true, nil
		}
		if target == "" || a.Target == target {
			out = append(out, a)
		}
		return len(out) < limit, nil
	})
	return out, err
}

// PruneAudit drops the audit records older than before.
func PruneAudit(ctx context.Context, db *store.DB, before time.Time) (int, error) {
	limit := make([]byte, 8)
	binary.BigEndian.PutUint64(limit, uint64(before.UnixNano()))
	return db.PruneBefore(ctx, auditBucket, limit, 500, nil)
}
