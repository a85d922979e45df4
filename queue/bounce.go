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
	// Transient are the times of the address's recent transient
	// failures (transient, mailbox full), within TransientWindow, at
	// most TransientSuppressAfter of them.
	Transient []time.Time `json:"transient,omitempty"`
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
	return q.updateSuppression(tx, addr, now, func(s *Suppression) (bool, string) {
		s.Bounces++
		reason := fmt.Sprintf("%d hard bounces", s.Bounces)
		if why != "" {
			reason = why
		}
		return atOnce || s.Bounces >= q.suppressAfter(), reason
	})
}

// updateSuppression applies count to addr's record: count updates it and
// says whether the address is now to be suppressed, and why. A newly
// suppressed address is journaled with that reason.
func (q *Queue) updateSuppression(tx *store.Tx, addr string, now time.Time, count func(*Suppression) (bool, string)) error {
	if addr == "" {
		return nil
	}
	tx.Need(model.AddressLock(addr))
	k := []byte(model.NormalizeEmail(addr))
	s := Suppression{Address: string(k)}
	if _, err := getJSON(tx, bBounces, k, &s); err != nil {
		return err
	}
	s.Last = now
	suppress, why := count(&s)
	newly := !s.Suppressed && suppress
	s.Suppressed = s.Suppressed || newly
	if err := putJSON(tx, bBounces, k, s); err != nil {
		return err
	}
	if !newly {
		return nil
	}
	e := journal.Entry{Time: now, Direction: journal.Out, Status: journal.StatusSuppressed,
		EnvelopeTo: []string{s.Address}, Reason: why + "; no email is sent to it until an operator clears it"}
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
// Message-ID (r.OriginalMessageID). What it does depends on the report's
// kind (loopguard.KindOf):
//
//   - delayed: a warning (RFC 3464 §2.3.3), journaled without changing
//     the job;
//   - success (delivered, relayed, expanded) and unknown: nothing;
//   - complaint: only recorded here; the inbound step decides whether
//     it may suppress (RecordComplaint);
//   - permanent: the email is bounced and the failure counts towards
//     SuppressAfter hard bounces;
//   - transient and mailbox_full: the email is bounced (the remote side
//     gave up on it) and the failure counts towards
//     TransientSuppressAfter within TransientWindow, so that one full
//     mailbox does not silence an address for good.
//
// The job it found is returned; ErrNotFound when there is none.
func (q *Queue) RecordBounce(tx *store.Tx, id string, r loopguard.BounceReport) (Job, error) {
	j, err := FindEmail(tx, id, r.OriginalMessageID)
	if err != nil {
		return Job{}, err
	}
	now := q.Clock.Now()
	kind := loopguard.KindOf(r)
	if r.Complaint() {
		// Whether a complaint may act is the caller's to decide
		// (RecordComplaint); here it is only recorded.
		return j, q.RecordComplaint(tx, j, r, ComplaintTrust{Why: "its source was not checked"})
	}
	detail := strings.TrimSpace(r.Status + " " + r.Diagnostic)
	switch kind {
	case loopguard.KindSuccess, loopguard.KindUnknown:
		return j, nil
	case loopguard.KindDelayed:
		return j, q.journal(tx, &j, journal.StatusDeferred, "remote delay notice: "+detail, nil, now)
	}
	// A bounce for an email still being retried means the remote side
	// gave up: so do we (saveJob drops a live job's keys).
	j.State, j.Reason = StateBounced, strings.TrimSpace(kind+": "+detail)
	if err := saveJob(tx, &j, now); err != nil {
		return Job{}, err
	}
	if err := q.journal(tx, &j, journal.StatusBounced, j.Reason, nil, now); err != nil {
		return Job{}, err
	}
	addr := j.To
	if addr == "" {
		addr = r.Recipient
	}
	if kind == loopguard.KindPermanent {
		err = q.hardBounce(tx, addr, now)
	} else {
		err = q.transientBounce(tx, addr, kind, now)
	}
	if err != nil {
		return Job{}, err
	}
	return j, nil
}

// transientBounce records a transient failure (kind transient or
// mailbox_full) of addr and suppresses it when TransientSuppressAfter of
// them fall within TransientWindow.
func (q *Queue) transientBounce(tx *store.Tx, addr, kind string, now time.Time) error {
	return q.updateSuppression(tx, addr, now, func(s *Suppression) (bool, string) {
		n, max := 0, q.transientSuppressAfter()
		for _, t := range s.Transient {
			if now.Sub(t) < q.transientWindow() {
				s.Transient[n] = t
				n++
			}
		}
		s.Transient = append(s.Transient[:n], now)
		if len(s.Transient) > max {
			s.Transient = s.Transient[len(s.Transient)-max:]
		}
		return len(s.Transient) >= max, fmt.Sprintf("%d transient failures (last: %s) within %s", len(s.Transient), kind, q.transientWindow())
	})
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
	// A report changes the job it names: its lock, before it is read.
	tx.Need(JobLock(jobID))
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
