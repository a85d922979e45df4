package queue

import (
	"fmt"

	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
)

// ComplaintTrust is the caller's word on an abuse report: whether it may
// act (it names one of our own identifiers and comes from a configured
// feedback loop or with an aligned DKIM signature, see the inbound step),
// and why, for the log.
type ComplaintTrust struct {
	Act bool
	Why string
}

// RecordComplaint records an abuse feedback report (RFC 5965 ARF) about
// email j. The email was delivered, so its state stays. When t.Act, the
// address it went to complained, and a mailbox provider's complaint is a
// stronger "do not send" than a bounce: the address is counted as a hard
// bounce and suppressed at once, until an operator clears it (deskmail
// queue suppressions). The address is the one deskmail sent to, not the
// one the report names: reports often redact it, so nobody can get an
// arbitrary address suppressed. Otherwise the report is only recorded in
// the email's outgoing log, with why it did not act.
func (q *Queue) RecordComplaint(tx *store.Tx, j Job, r loopguard.BounceReport, t ComplaintTrust) error {
	now := q.Clock.Now()
	addr := j.To
	if addr == "" {
		addr = r.Recipient
	}
	kind := r.FeedbackType
	if kind == "" {
		kind = "abuse"
	}
	what := fmt.Sprintf("%s complaint (ARF feedback report) about email %s", kind, j.ID)
	if t.Act {
		if t.Why != "" {
			what += " (" + t.Why + ")"
		}
		return q.countBounce(tx, addr, now, true, what)
	}
	return q.journal(tx, &j, string(j.State), what+" recorded, not acted on: "+t.Why, nil, now)
}
