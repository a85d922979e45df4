package intake

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// Complaints is who is believed about abuse complaints (ARF, RFC 5965).
// A complaint suppresses the address an email of ours went to only when
// both hold:
//
//   - it names that email by an identifier only deskmail makes: the VERP
//     address the report was sent to (bounce+JOB@), or a Message-ID of
//     deskmail's signed scheme (threading.Keyring.IsOwnMessageID); and
//   - it comes from a configured feedback loop (FeedbackLoops, a domain
//     or an address, matched against its authenticated From), or carries
//     a DKIM signature aligned with its From whose organization is the
//     one of the address complained about (the recipient's own provider).
//
// Any other complaint is recorded (the inbound log, and the outgoing log
// of the email it names) and shown, never acted on: a report from <>
// naming a customer's Message-ID must not silence that customer.
type Complaints struct {
	Auth          *auth.Checker
	Keyring       *threading.Keyring
	FeedbackLoops []string
}

// complaintSource is what was learnt about a report before the commit.
type complaintSource struct {
	auth    auth.Result
	checked bool
}

// check authenticates the report (DNS, so outside any transaction).
func (c *Complaints) check(ctx context.Context, m inbound.Meta, raw []byte, r loopguard.BounceReport) complaintSource {
	if c == nil || c.Auth == nil || !r.Complaint() {
		return complaintSource{}
	}
	res := c.Auth.Check(ctx, auth.Input{RemoteIP: m.Envelope.RemoteIP, Helo: m.Envelope.Helo,
		MailFrom: m.Envelope.MailFrom, Raw: raw})
	return complaintSource{auth: res, checked: true}
}

// temporary is an error when a report from a configured feedback loop
// could not be authenticated for a temporary DNS failure: the pipeline
// tries it again later rather than record it as not to be acted on.
func (c *Complaints) temporary(src complaintSource) error {
	if c == nil || !src.checked || c.loop(src.auth.From) == "" || !authTemporary(src.auth) {
		return nil
	}
	return fmt.Errorf("authentication of the feedback report from %s hit a temporary DNS failure (%s)", src.auth.From, src.auth)
}

// trust decides whether the report about email j may act.
func (c *Complaints) trust(src complaintSource, j queue.Job) queue.ComplaintTrust {
	if c == nil || !src.checked {
		return queue.ComplaintTrust{Why: "complaints are not checked here"}
	}
	a := src.auth
	if loop := c.loop(a.From); loop != "" {
		if a.Authenticated() {
			return queue.ComplaintTrust{Act: true, Why: "from feedback loop " + loop + ", " + a.String()}
		}
		return queue.ComplaintTrust{Why: fmt.Sprintf("From %s is feedback loop %s, but not authenticated (%s)", a.From, loop, a)}
	}
	if a.DKIMAligned() && j.To != "" && auth.SameOrganization(a.FromDomain, domainOf(j.To)) {
		return queue.ComplaintTrust{Act: true, Why: "signed (DKIM) by " + a.FromDomain + ", the provider of " + j.To}
	}
	return queue.ComplaintTrust{Why: fmt.Sprintf("from no configured feedback loop (From %q), nor DKIM-signed by the provider of the address complained about (%s)", a.From, a)}
}

// loop is the configured feedback loop that addr (an address) matches:
// the address itself, or its domain or a parent domain of it.
func (c *Complaints) loop(addr string) string {
	if addr == "" {
		return ""
	}
	dom := domainOf(addr)
	for _, l := range c.FeedbackLoops {
		if strings.Contains(l, "@") {
			if l == addr {
				return l
			}
		} else if dom == l || strings.HasSuffix(dom, "."+l) {
			return l
		}
	}
	return ""
}

func domainOf(addr string) string { return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:]) }

// recordComplaint ties an ARF report to the email of ours it names, if
// it names one by an identifier only deskmail makes, and lets it act or
// only records it.
func (s *InboundStep) recordComplaint(tx *store.Tx, m inbound.Meta, r loopguard.BounceReport, src complaintSource) error {
	kind := r.FeedbackType
	id := ""
	for _, rcpt := range m.Envelope.Rcpts {
		if id = queue.ParseVERP(rcpt); id != "" {
			break
		}
	}
	mid := r.OriginalMessageID
	if s.Complaints == nil || s.Complaints.Keyring == nil || !s.Complaints.Keyring.IsOwnMessageID(mid) {
		mid = "" // anyone can quote a Message-ID; only ours are signed
	}
	j, err := queue.FindEmail(tx, id, mid)
	action := ""
	switch {
	case errors.Is(err, queue.ErrNotFound):
		action = "abuse report (" + kind + ") naming no email of ours by a VERP address or a signed Message-ID; recorded, nothing changed"
	case err != nil:
		return err
	default:
		t := s.Complaints.trust(src, j)
		if err := s.Queue.RecordComplaint(tx, j, r, t); err != nil {
			return err
		}
		if t.Act {
			action = "abuse complaint (" + kind + ") recorded for outgoing email " + j.ID + ": " + j.To + " suppressed; no notification (" + t.Why + ")"
		} else {
			action = "abuse complaint (" + kind + ") about outgoing email " + j.ID + " to " + j.To + " recorded, not acted on: " + t.Why
		}
	}
	return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
		e.Action = action
		if src.checked {
			e.Auth = src.auth.String()
		}
	})
}
