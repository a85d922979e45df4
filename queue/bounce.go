package queue

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// VERPPrefix starts the local part of the envelope sender of every email:
// bounce+JOBID@domain (variable envelope return path), so a DSN names the
// email it is about even when the report itself is unreadable.
const VERPPrefix = "bounce+"

// VERPAddress is the envelope sender of job id.
func VERPAddress(id, domain string) string { return VERPPrefix + id + "@" + domain }

// ParseVERP returns the job ID of a VERP address, or "" if addr is not one.
func ParseVERP(addr string) string {
	local, _, ok := strings.Cut(strings.Trim(addr, "<> "), "@")
	if !ok {
		return ""
	}
	id, ok := strings.CutPrefix(strings.ToLower(local), VERPPrefix)
	if !ok || !model.ValidID(id) {
		return ""
	}
	return id
}

// Suppression is the hard-bounce record of an address.
type Suppression struct {
	Address    string    `json:"address"`
	Bounces    int       `json:"bounces"`
	Suppressed bool      `json:"suppressed"`
	Last       time.Time `json:"last"`
}

// Suppressed tells whether email to addr is suppressed.
func Suppressed(tx *store.Tx, addr string) bool {
	var s Suppression
	ok, _ := getJSON(tx, bBounces, []byte(model.NormalizeEmail(addr)), &s)
	return ok && s.Suppressed
}

// hardBounce counts a permanent failure of addr and suppresses it once
// SuppressAfter are counted.
func (q *Queue) hardBounce(tx *store.Tx, addr string, now time.Time) error {
	return q.countBounce(tx, addr, now, false, "")
}

// countBounce counts one hard bounce of addr; with atOnce the address is
// suppressed whatever the count, and why says so in the log.
func (q *Queue) countBounce(tx *store.Tx, addr string, now time.Time, atOnce bool, why string) error {
	if addr == "" {
		return nil
	}
	k := []byte(model.NormalizeEmail(addr))
	s := Suppression{Address: string(k)}
	if _, err := getJSON(tx, bBounces, k, &s); err != nil {
		return err
	}
	s.Bounces++
	s.Last = now
	newly := !s.Suppressed && (atOnce || s.Bounces >= q.suppressAfter())
	s.Suppressed = s.Suppressed || newly
	if err := putJSON(tx, bBounces, k, s); err != nil {
		return err
	}
	if !newly {
		return nil
	}
	reason := fmt.Sprintf("%d hard bounces; no email is sent to it until an operator clears it", s.Bounces)
	if why != "" {
		reason = why + "; no email is sent to it until an operator clears it"
	}
	e := journal.Entry{Time: now, Direction: journal.Out, Status: journal.StatusSuppressed,
		EnvelopeTo: []string{s.Address}, Reason: reason}
	return journal.Append(tx, &e)
}

// ClearSuppression forgets addr's bounces; it reports whether there were any.
func ClearSuppression(tx *store.Tx, addr string) (bool, error) {
	k := []byte(model.NormalizeEmail(addr))
	if tx.Get(bBounces, k) == nil {
		return false, nil
	}
	return true, tx.Delete(bBounces, k)
}

// Suppressions lists the addresses with hard bounces.
func Suppressions(tx *store.Tx) ([]Suppression, error) {
	var out []Suppression
	err := tx.Scan(bBounces, nil, func(_, v []byte) (bool, error) {
		var s Suppression
		if err := json.Unmarshal(v, &s); err != nil {
			return false, err
		}
		out = append(out, s)
		return true, nil
	})
	return out, err
}

// RecordBounce ties an inbound DSN to the email it reports on and marks
// that email "bounced". id is the job ID of the VERP address the DSN was
// sent to (see ParseVERP) or, failing that, the bounced email's
// Message-ID (r.OriginalMessageID). A report whose Action is "delayed" is
// only a warning (RFC 3464 §2.3.3) and is journaled without changing the
// job; "delivered", "relayed" and "expanded" change nothing. A hard bounce
// (status 5.x.x, RFC 3463 §3.1) counts towards suppressing the address.
// The job it found is returned; ErrNotFound when there is none.
func (q *Queue) RecordBounce(tx *store.Tx, id string, r loopguard.BounceReport) (Job, error) {
	j, err := FindEmail(tx, id, r.OriginalMessageID)
	if err != nil {
		return Job{}, err
	}
	now := q.Clock.Now()
	if r.Format == "arf" {
		// Whether a complaint may act is the caller's to decide
		// (RecordComplaint); here it is only recorded.
		return j, q.RecordComplaint(tx, j, r, ComplaintTrust{Why: "its source was not checked"})
	}
	detail := strings.TrimSpace(r.Status + " " + r.Diagnostic)
	switch strings.ToLower(r.Action) {
	case "delivered", "relayed", "expanded":
		return j, nil
	case "delayed":
		return j, q.journal(tx, &j, journal.StatusDeferred, "remote delay notice: "+detail, nil, now)
	}
	// A bounce for an email still being retried means the remote side
	// gave up: so do we (saveJob drops a live job's keys).
	j.State, j.Reason = StateBounced, detail
	if err := saveJob(tx, &j, now); err != nil {
		return Job{}, err
	}
	if err := q.journal(tx, &j, journal.StatusBounced, detail, nil, now); err != nil {
		return Job{}, err
	}
	if strings.HasPrefix(r.Status, "5") {
		addr := j.To
		if addr == "" {
			addr = r.Recipient
		}
		if err := q.hardBounce(tx, addr, now); err != nil {
			return Job{}, err
		}
	}
	return j, nil
}

// FindEmail returns the email job a report names: by the job ID of the
// VERP address it was sent to, or failing that by the Message-ID
// deskmail gave the email. ErrNotFound when neither names an email.
func FindEmail(tx *store.Tx, id, messageID string) (Job, error) {
	jobID := id
	for _, mid := range []string{id, messageID} {
		if tx.Get(bJobs, []byte(jobID)) != nil {
			break
		}
		if v := tx.Get(bMsgIDs, []byte(threading.CanonicalMessageID(mid))); v != nil {
			jobID = string(v)
		}
	}
	j, err := GetJob(tx, jobID)
	if err != nil {
		return Job{}, err
	}
	if j.Kind != KindEmail {
		// A VERP address only ever names an email; a report naming
		// another kind of job is forged or mistaken.
		return Job{}, fmt.Errorf("%w: %s is a %s job, not an email", ErrNotFound, jobID, j.Kind)
	}
	return j, nil
}
