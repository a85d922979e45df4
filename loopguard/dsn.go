package loopguard

import (
	"bytes"
	"errors"
	"regexp"
	"strings"

	"github.com/deskmail/deskmail/mailmsg"
)

// BounceReport is what a bounce says about the email it refers to, so the
// outbound side can mark that email as bounced (or delayed).
type BounceReport struct {
	// Recipient is the address the bounced email was sent to: the
	// Original-Recipient of RFC 3464 §2.3.1 when the reporting MTA kept it
	// (it is what deskmail wrote in RCPT TO), else the Final-Recipient.
	Recipient string `json:"recipient"`
	// Status is the RFC 3463 enhanced status code, such as "5.1.1".
	Status string `json:"status"`
	// Diagnostic is the remote server's answer (Diagnostic-Code without its
	// "smtp;" type), or the reason text of a legacy bounce.
	Diagnostic string `json:"diagnostic"`
	// OriginalMessageID is the Message-ID of the bounced email, without <>.
	OriginalMessageID string `json:"original_message_id"`
	// Action is "failed", "delayed", "delivered", "relayed" or "expanded"
	// (RFC 3464 §2.3.3). "delayed" is a warning: the email is still queued.
	Action string `json:"action"`
	// ReportingMTA names the server that wrote the report, when known.
	ReportingMTA string `json:"reporting_mta,omitempty"`
	// Format is "rfc3464" for a message/delivery-status report, "legacy"
	// for a plain-text bounce read on a best-effort basis, "arf" for an
	// abuse feedback report (RFC 5965), and "unknown" for a bare
	// notification with the null reverse path.
	Format string `json:"format"`
	// Recipients lists every recipient of a multi-recipient report; the
	// fields above describe the first failed one (else the first one).
	Recipients []BounceRecipient `json:"recipients,omitempty"`
	// FeedbackType is the Feedback-Type of an abuse report (RFC 5965
	// §3.1: abuse, fraud, virus...), with Format "arf" and Action
	// "complaint"; Recipient is then the complainant.
	FeedbackType string `json:"feedback_type,omitempty"`
	// Kind says what the report means for the address (KindPermanent,
	// KindTransient, KindDelayed, KindMailboxFull, KindSuccess,
	// KindComplaint), from Action, Status and the diagnostic; see
	// bounceKind.
	Kind string `json:"kind"`
	// OwnMail is true when the copy of the bounced email attached to the
	// report carries a valid MarkerHeader: the report certainly refers to
	// mail deskmail sent, and is not a forged DSN naming a Message-ID.
	OwnMail bool `json:"own_mail"`
}

// BounceRecipient is one per-recipient block of a delivery status report.
type BounceRecipient struct {
	Recipient      string `json:"recipient"`
	FinalRecipient string `json:"final_recipient"`
	Action         string `json:"action"`
	Status         string `json:"status"`
	Diagnostic     string `json:"diagnostic"`
}

// The kinds of a report (BounceReport.Kind).
const (
	// KindPermanent: the remote side gave up for good (5.x.x, or a
	// failure that says no more).
	KindPermanent = "permanent"
	// KindTransient: a failure that may pass (4.x.x after the sender's
	// retries ran out, a greylisting or a busy server).
	KindTransient = "transient"
	// KindMailboxFull: the mailbox is full (X.2.2, "over quota"), a
	// transient failure of its own kind.
	KindMailboxFull = "mailbox_full"
	// KindDelayed: a warning, the email is still being retried.
	KindDelayed = "delayed"
	// KindSuccess: delivered, relayed or expanded (NOTIFY=SUCCESS).
	KindSuccess = "success"
	// KindComplaint: the recipient complained (ARF, a feedback loop).
	KindComplaint = "complaint"
	// KindUnknown: a notification that says nothing readable (a bare
	// null reverse path); it changes nothing.
	KindUnknown = "unknown"
)

// Complaint tells whether the report is a recipient's complaint rather
// than a delivery report.
func (r BounceReport) Complaint() bool { return r.Kind == KindComplaint || r.Format == "arf" }

// mailboxFullWords are the diagnostics of a full mailbox.
var mailboxFullWords = []string{"mailbox full", "mailbox is full", "over quota", "quota exceeded", "exceeded storage",
	"mailfolder is full", "folder is full", "mailbox is over", "exceeds quota", "exceeded quota", "mailbox exceeded",
	"メールボックスが一杯", "容量オーバー", "容量超過", "邮箱已满", "信箱已满", "사서함이 꽉", "почтовый ящик переполнен",
	"insufficient storage", "mailbox size limit", "user is over", "overquota", "disk quota", "storage allocation",
	"容量", "용량", "переполнен"}

// transientWords are diagnostics of a failure that may pass.
var transientWords = []string{"try again later", "temporarily", "temporary", "greylist", "graylist", "connection timed out",
	"deferred", "too many connections", "service unavailable", "rate limit"}

// KindOf is the kind of r: r.Kind when the classifier set it, else the
// kind its Action, Status and Diagnostic say (reports built by hand, or
// stored before kinds existed).
func KindOf(r BounceReport) string { return bounceKind(&r) }

// bounceKind classifies a report: a complaint, a success, a delay, a full
// mailbox, a transient failure (4.x.x, or words that say so) or, for
// any other failure, permanent.
func bounceKind(r *BounceReport) string {
	if r.Kind != "" {
		return r.Kind
	}
	if r.Format == "arf" || r.Action == "complaint" {
		return KindComplaint
	}
	if r.Action == "" && r.Recipient == "" && r.Status == "" {
		// A bare notification: nothing says what happened.
		return KindUnknown
	}
	switch strings.ToLower(r.Action) {
	case "delivered", "relayed", "expanded":
		return KindSuccess
	case "delayed":
		return KindDelayed
	}
	diag := strings.ToLower(r.Diagnostic)
	if strings.HasSuffix(r.Status, ".2.2") || findAny(diag, mailboxFullWords) != "" {
		return KindMailboxFull
	}
	if strings.HasPrefix(r.Status, "4") {
		return KindTransient
	}
	if strings.HasPrefix(r.Status, "5") {
		return KindPermanent
	}
	if findAny(diag, transientWords) != "" || strings.HasPrefix(strings.TrimSpace(diag), "4") {
		return KindTransient
	}
	return KindPermanent
}

var errNoDeliveryStatus = errors.New("no per-recipient fields in delivery status")

// parseDeliveryStatus reads the body of a message/delivery-status part
// (RFC 3464 §2.1): a per-message block, then one block per recipient,
// separated by empty lines, each made of header-like fields.
func parseDeliveryStatus(body []byte) (reportingMTA string, rcpts []BounceRecipient, err error) {
	body = bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n"))
	blocks := bytes.Split(bytes.TrimSpace(body), []byte("\n\n"))
	for i, b := range blocks {
		h, _, _ := readHeader(append(trimSpace(b), '\n'), 64<<10)
		if i == 0 || (!h.has("final-recipient") && !h.has("original-recipient")) {
			if v := h.get("reporting-mta"); v != "" {
				reportingMTA = stripType(v)
			}
			if !h.has("final-recipient") && !h.has("original-recipient") {
				continue
			}
		}
		r := BounceRecipient{
			FinalRecipient: strings.ToLower(stripType(h.get("final-recipient"))),
			Action:         firstWord(h.get("action")),
			Status:         statusCode(h.get("status")),
			Diagnostic:     stripType(h.get("diagnostic-code")),
		}
		r.Recipient = strings.ToLower(stripType(h.get("original-recipient")))
		if r.Recipient == "" {
			r.Recipient = r.FinalRecipient
		}
		rcpts = append(rcpts, r)
		if len(rcpts) >= 100 {
			break
		}
	}
	if len(rcpts) == 0 {
		return reportingMTA, nil, errNoDeliveryStatus
	}
	return reportingMTA, rcpts, nil
}

// stripType removes the "rfc822;" / "dns;" / "smtp;" type prefix of a DSN
// field (RFC 3464 §2.1.2) and any <> around an address.
func stripType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 && i < 12 {
		v = v[i+1:]
	}
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, "<") && strings.HasSuffix(v, ">") && !strings.ContainsAny(v[1:len(v)-1], "<> ") {
		v = v[1 : len(v)-1]
	}
	return v
}

var statusRE = regexp.MustCompile(`\b[245]\.\d{1,3}\.\d{1,3}\b`)

// statusCode keeps the RFC 3463 code of a Status field and drops comments
// such as "5.0.0 (permanent failure)".
func statusCode(v string) string {
	if s := statusRE.FindString(v); s != "" {
		return s
	}
	return strings.TrimSpace(v)
}

// bounceFromReport builds the report of an RFC 3464 bounce from the parts
// of a multipart/report message.
func bounceFromReport(m *message) *BounceReport {
	var rep *BounceReport
	for _, p := range m.parts {
		if p.mediaType != "message/delivery-status" && p.mediaType != "message/global-delivery-status" {
			continue
		}
		mta, rcpts, err := parseDeliveryStatus(p.content)
		if err != nil {
			continue
		}
		rep = &BounceReport{ReportingMTA: mta, Format: "rfc3464", Recipients: rcpts}
		pick := rcpts[0]
		for _, r := range rcpts {
			if r.Action == "failed" {
				pick = r
				break
			}
		}
		rep.Recipient, rep.Status, rep.Diagnostic, rep.Action = pick.Recipient, pick.Status, pick.Diagnostic, pick.Action
		break
	}
	if rep != nil {
		rep.OriginalMessageID = originalMessageID(m)
	}
	return rep
}

// attachedOriginal returns the header of the bounced email attached to a
// report (RFC 3462 §2: message/rfc822 or text/rfc822-headers), if any.
func attachedOriginal(m *message) header {
	for _, p := range m.parts {
		switch p.mediaType {
		case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
			h, _, _ := readHeader(p.content, 256<<10)
			if len(h) > 0 {
				return h
			}
		}
	}
	return nil
}

// originalMessageID finds the Message-ID of the bounced email: in the
// attached message/rfc822 or text/rfc822-headers part (RFC 3462 §2, the
// third part of a report), else in the References a few MTAs (Gmail, M365)
// add to their reports, else in a "Message-ID:" line of a quoted copy.
func originalMessageID(m *message) string {
	if id := cleanID(attachedOriginal(m).get("message-id")); id != "" {
		return id
	}
	for _, p := range m.parts {
		if strings.HasPrefix(p.mediaType, "text/") {
			if id := quotedMessageID(p.content); id != "" {
				return id
			}
		}
	}
	if refs := strings.Fields(m.header.get("references")); len(refs) > 0 {
		return cleanID(refs[len(refs)-1])
	}
	return cleanID(m.header.get("in-reply-to"))
}

// quotedMessageID finds a "Message-ID: <id>" line (possibly indented or
// ">"-quoted) in the first maxTextScan bytes of b, line by line: linear,
// where a multi-line regular expression cost ~150 ns a byte.
func quotedMessageID(b []byte) string {
	if len(b) > maxTextScan {
		b = b[:maxTextScan]
	}
	for len(b) > 0 {
		line, rest := cutLine(b)
		b = rest
		line = bytes.TrimLeft(line, " \t>")
		if len(line) < 12 || !bytes.EqualFold(line[:11], []byte("message-id:")) {
			continue
		}
		f := bytes.Fields(line[11:])
		if len(f) == 0 {
			continue
		}
		id := strings.Trim(string(f[0]), "<>")
		if at := strings.IndexByte(id, '@'); at > 0 && at < len(id)-1 && !strings.ContainsAny(id, "<>") {
			return id
		}
	}
	return ""
}

// cleanID strips the angle brackets and spaces around a Message-ID, as
// the one parse reads it (mailmsg.MessageID).
func cleanID(v string) string { return mailmsg.MessageID(v) }

var (
	// qmail's bounce, "qmail-send program" (qmail's own QSBMF format,
	// https://cr.yp.to/proto/qsbmf.txt): "<addr>:" then the reason.
	// Postfix's text part has the same shape, on one line.
	// Appliances indent it.
	qmailRcptRE = regexp.MustCompile(`(?m)^[ \t]*<([^<>\s]+@[^<>\s]+)>:[ \t]*`)
	// Sendmail's transcript: "<addr>... Deferred: reason".
	sendmailRcptRE = regexp.MustCompile(`(?m)^<([^<>\s]+@[^<>\s]+)>\.\.\.[ \t]*([^\n]*)`)
	// Sendmail lists the failed addresses alone on a line, in <>, under
	// "The following addresses had permanent fatal errors".
	bareRcptRE = regexp.MustCompile(`(?m)^[ \t]*<([^<>\s]+@[^<>\s]+)>[ \t]*$`)
	// Exim, Sendmail and many others indent the failed address on its own
	// line after an explanation.
	indentedRcptRE = regexp.MustCompile(`(?m)^[ \t]+<?([^<>\s@]+@[^<>\s@]+\.[^<>\s@:]+)>?:?[ \t]*$`)
	// No counted repetition ({3,200}): it multiplies the work of the
	// automaton by its count on every byte; the match is clipped below.
	smtpReplyRE = regexp.MustCompile(`\b[45]\d\d[ -][^\n]{3}[^\n]*`)
)

// legacyBounce reads a plain-text bounce on a best-effort basis: the failed
// recipient from X-Failed-Recipients (Exim) or the text, an SMTP reply and
// status code from the text, the original Message-ID from the quoted copy.
func legacyBounce(m *message, delayed bool) *BounceReport {
	rep := &BounceReport{Format: "legacy", Action: "failed"}
	if delayed {
		rep.Action = "delayed"
	}
	if v := m.header.get("x-failed-recipients"); v != "" {
		rep.Recipient = strings.ToLower(strings.TrimSpace(strings.Split(v, ",")[0]))
	}
	var text []byte
	for _, p := range m.parts {
		if strings.HasPrefix(p.mediaType, "text/") {
			text = p.content
			break
		}
	}
	// The recipient and the reason are in the first lines of a bounce;
	// reading further would only let a large text cost more.
	if len(text) > maxLegacyScan {
		text = text[:maxLegacyScan]
	}
	text = bytes.ReplaceAll(text, []byte("\r\n"), []byte("\n"))
	if loc := qmailRcptRE.FindSubmatchIndex(text); loc != nil {
		if rep.Recipient == "" {
			rep.Recipient = strings.ToLower(string(text[loc[2]:loc[3]]))
		}
		rep.Diagnostic = clipWords(firstLines(text[loc[1]:], 4), 300)
	} else if s := sendmailRcptRE.FindSubmatch(text); s != nil {
		if rep.Recipient == "" {
			rep.Recipient = strings.ToLower(string(s[1]))
		}
		rep.Diagnostic = strings.TrimSpace(string(s[2]))
	} else if s := bareRcptRE.FindSubmatch(text); s != nil && rep.Recipient == "" {
		rep.Recipient = strings.ToLower(string(s[1]))
	} else if s := indentedRcptRE.FindSubmatch(text); s != nil && rep.Recipient == "" {
		rep.Recipient = strings.ToLower(string(s[1]))
	}
	if rep.Recipient == "" {
		rep.Recipient = firstAddress(text, m)
	}
	if rep.Diagnostic == "" {
		if s := smtpReplyRE.Find(text); s != nil {
			rep.Diagnostic = clipWords(s, 200)
		}
	}
	if rep.Diagnostic == "" {
		rep.Diagnostic = reasonLine(text)
	}
	rep.Status = statusRE.FindString(rep.Diagnostic)
	if rep.Status == "" {
		if s := statusRE.Find(text); s != nil {
			rep.Status = string(s)
		}
	}
	rep.OriginalMessageID = originalMessageID(m)
	if rep.Recipient != "" {
		rep.Recipients = []BounceRecipient{{Recipient: rep.Recipient, FinalRecipient: rep.Recipient, Action: rep.Action, Status: rep.Status, Diagnostic: rep.Diagnostic}}
	}
	return rep
}

// addrRE finds an address in a legacy bounce's text.
var addrRE = regexp.MustCompile(`[A-Za-z0-9._%+\-=]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+`)

// firstAddress is the first address in a legacy bounce's text that is
// not the bounce's own sender or recipient, and not in a Message-ID or
// From line of the quoted copy: a best effort for the formats that name
// the failed recipient their own way ("Recipient: x", "Unknown user: x",
// "RCPT To:<x>", "x (user not found)").
func firstAddress(text []byte, m *message) string {
	own := map[string]bool{addrSpec(m.header.get("from")): true, addrSpec(m.header.get("to")): true,
		addrSpec(m.header.get("return-path")): true, addrSpec(m.header.get("sender")): true}
	for len(text) > 0 {
		line, rest := cutLine(text)
		text = rest
		l := bytes.ToLower(bytes.TrimLeft(line, " \t>"))
		if bytes.HasPrefix(l, []byte("message-id")) || bytes.HasPrefix(l, []byte("from:")) || bytes.HasPrefix(l, []byte("reporting-mta")) ||
			bytes.HasPrefix(l, []byte("received")) || bytes.HasPrefix(l, []byte("return-path")) || bytes.HasPrefix(l, []byte("in-reply-to")) || bytes.HasPrefix(l, []byte("references")) {
			continue
		}
		for _, a := range addrRE.FindAll(line, 4) {
			addr := strings.ToLower(strings.Trim(string(a), "."))
			if !own[addr] {
				return addr
			}
		}
	}
	return ""
}

// reasonLine is the first line of a legacy bounce's text that gives a
// reason (a full mailbox, a temporary failure, an unknown user).
func reasonLine(text []byte) string {
	for _, words := range [][]string{mailboxFullWords, transientWords, bouncePhrases} {
		for b := text; len(b) > 0; {
			line, rest := cutLine(b)
			b = rest
			if findAny(strings.ToLower(string(line)), words) != "" {
				return clipWords(line, 200)
			}
		}
	}
	return ""
}

// maxLegacyScan is how much of a plain-text bounce the recipient and
// diagnostic patterns read.
const maxLegacyScan = 8 << 10

// firstLines returns up to n non-empty lines of b.
func firstLines(b []byte, n int) []byte {
	var out []byte
	for len(b) > 0 && n > 0 {
		line, rest := cutLine(b)
		b = rest
		if len(bytes.TrimSpace(line)) == 0 {
			if len(out) > 0 {
				break
			}
			continue
		}
		out = append(out, line...)
		n--
	}
	return out
}

// clipWords joins the words of b with single spaces, at most max bytes.
func clipWords(b []byte, max int) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}
