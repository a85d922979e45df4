package loopguard

import (
	"bytes"
	"cmp"
	"encoding/json"
	"strings"
)

// This file holds the report rules beyond RFC 3464 and RFC 5965: the
// delivery-report fields that legacy bounces write as text, Amazon SES
// notices sent as JSON in an email, complaint reports that carry only
// the attached original, list managers' error notices, and the senders
// of all of these.

// isDaemon tells whether a local part is a mail system's (MAILER-DAEMON,
// postmaster, post_master, Mailer.Daemon...): compared with the
// separators "-", "_" and "." dropped, as gateways spell them every way.
func isDaemon(lp string) bool {
	lp = strings.ToLower(lp)
	if daemonLocalParts[lp] {
		return true
	}
	squeezed := strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r == '.' {
			return -1
		}
		return r
	}, lp)
	return daemonSqueezed[squeezed]
}

// isListManager tells whether a local part is a list manager's own
// (listserv@, sympa@, mylist-owner@, owner-mylist@, mylist-bounces@):
// list posts carry their author in From, so only the manager's notices
// come from these.
func isListManager(lp string) bool {
	lp = strings.ToLower(lp)
	if listManagers[lp] {
		return true
	}
	for _, suf := range []string{"-owner", "-bounces", "-bounce", "-errors"} {
		if strings.HasSuffix(lp, suf) && len(lp) > len(suf) {
			return true
		}
	}
	return strings.HasPrefix(lp, "owner-") && len(lp) > len("owner-")
}

// reportText finds the fields of a delivery report written as text
// (Final-Recipient:, Action: failed, Status: 5.1.1, Diagnostic-Code:),
// as Exchange 2003, Domino, qmail-ldap and appliances do in a plain
// multipart/mixed, in the first maxLegacyScan bytes of the text parts.
// It returns the field seen, or "".
func reportText(m *message) string {
	for _, b := range textHeads(m) {
		for len(b) > 0 {
			line, rest := cutLine(b)
			b = rest
			l := strings.ToLower(string(bytes.TrimSpace(line)))
			for _, f := range reportTextFields {
				if strings.HasPrefix(l, f) {
					return f
				}
			}
		}
	}
	return ""
}

// smtpFailure finds an SMTP reply of a refusal with its enhanced status
// ("550 5.1.1 <x@y>: Recipient address rejected", "554-5.7.1 ...") in
// the first lines of the first text part: a mail system quoting the
// other side.
func smtpFailure(m *message) string {
	heads := textHeads(m)
	if len(heads) == 0 {
		return ""
	}
	if s := smtpReplyRE.Find(heads[0]); s != nil && statusRE.Match(s) {
		return clipWords(s, 80)
	}
	return ""
}

// textHeads are the first maxLegacyScan bytes of each text part (not an
// attached header block), where a legacy bounce says what happened.
func textHeads(m *message) [][]byte {
	var out [][]byte
	for _, p := range m.parts {
		if !strings.HasPrefix(p.mediaType, "text/") || p.mediaType == "text/rfc822-headers" {
			continue
		}
		out = append(out, p.content[:min(len(p.content), maxLegacyScan)])
	}
	return out
}

// hasAttachedMessage tells whether the message carries a copy of another
// message (message/rfc822, text/rfc822-headers).
func hasAttachedMessage(m *message) bool {
	for _, p := range m.parts {
		if isAttachedMessage(p.mediaType) {
			return true
		}
	}
	return false
}

// reportRulesMore reads the reports that are not multipart/report: an
// Amazon SES notice in JSON, a complaint that carries only the attached
// original, a list manager's notice.
func reportRulesMore(e *evidence, m *message, s subject, nullPath bool) {
	if e.decided(Bounce) {
		return
	}
	if rep := sesNotice(m); rep != nil {
		e.add(Bounce, certain, "Amazon SES notification in JSON (%s)", rep.Kind)
		e.bounce = rep
		return
	}
	complaintRules(e, m, s, nullPath)
	if v := m.header.get("x-list-administrivia"); strings.EqualFold(strings.TrimSpace(v), "yes") {
		// Mailman marks its own notices (held for moderation, loop,
		// rejected post) with it, and nothing else.
		e.add(AutoReply, certain, "X-List-Administrivia: yes (a list manager's own notice)")
	}
}

// complaintRules finds complaint reports that are not ARF: a mailbox
// provider's feedback loop (Hotmail's and AOL's older formats, many ISPs
// still) sends the complained-of message as an attachment with a line or
// two of text or none. The attachment is required, and a complaint
// sender or the null reverse path, and a complaint subject or no text of
// its own.
func complaintRules(e *evidence, m *message, s subject, nullPath bool) {
	orig := attachedOriginal(m)
	if orig == nil {
		return
	}
	from := addrSpec(m.header.get("from"))
	lp := strings.ToLower(localPart(from))
	own := strings.TrimSpace(m.words())
	subj := s.hits.first(sComplaint)
	byWho := ""
	switch {
	case orig.has("x-hmxmroriginalrecipient"):
		// Hotmail/Outlook.com's feedback loop stamps the copy it sends.
		byWho = "the attached copy carries Outlook.com's X-HmXmrOriginalRecipient"
	case subj != "" && own == "" && !weakComplaintSubject[subj]:
		// "Complaint about your service" over a forwarded email is a
		// customer's; "complaint about message from 192.0.2.1" and
		// "Spam report" are a feedback loop's.
		byWho = "a feedback loop's subject over nothing but the attached message"
	case localPartIn(lp, complaintSenders, false) || strings.Contains(from, "@arf.") || strings.Contains(from, "@fbl."):
		byWho = "sender " + from + " is a feedback loop's"
	case isDaemon(lp) || machineSender(from):
		byWho = "sender " + from + " is a machine's"
	case nullPath:
		byWho = "null reverse path"
	default:
		return
	}
	if s.hits.first(sBounce) != "" || m.phrases().first(bBounce) != "" || reportText(m) != "" {
		// A legacy bounce with the original attached (Domino,
		// GroupWise, appliances).
		return
	}
	if subj == "" && (len(own) > 200 || byWho == "null reverse path") {
		return
	}
	why := "no text of its own"
	if subj != "" {
		why = "complaint subject " + strconvQuote(subj)
	}
	e.add(Bounce, certain, "complaint report carrying the attached original: %s and %s", byWho, why)
	rep := &BounceReport{Format: "attached", Action: "complaint", Kind: KindComplaint, FeedbackType: "abuse"}
	rep.Recipient = addrSpec(orig.get("x-hmxmroriginalrecipient"))
	if rep.Recipient == "" {
		rep.Recipient = addrSpec(orig.get("to"))
	}
	rep.OriginalMessageID = cleanID(orig.get("message-id"))
	rep.Diagnostic = "complaint (" + rep.FeedbackType + ")"
	if rep.Recipient != "" {
		rep.Recipients = []BounceRecipient{{Recipient: rep.Recipient, FinalRecipient: rep.Recipient, Action: rep.Action, Diagnostic: rep.Diagnostic}}
	}
	e.bounce = rep
}

// sesJSON is the part of an Amazon SES notification the rules read: the
// notification (SNS email-json wraps it as a string in Message).
type sesJSON struct {
	Message          string `json:"Message"`
	NotificationType string `json:"notificationType"`
	EventType        string `json:"eventType"`
	Bounce           *struct {
		BounceType        string `json:"bounceType"`
		BounceSubType     string `json:"bounceSubType"`
		ReportingMTA      string `json:"reportingMTA"`
		BouncedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Action         string `json:"action"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"bouncedRecipients"`
	} `json:"bounce"`
	Complaint *struct {
		ComplaintFeedbackType string `json:"complaintFeedbackType"`
		ComplainedRecipients  []struct {
			EmailAddress string `json:"emailAddress"`
		} `json:"complainedRecipients"`
	} `json:"complaint"`
	Delivery *struct {
		Recipients   []string `json:"recipients"`
		SMTPResponse string   `json:"smtpResponse"`
		ReportingMTA string   `json:"reportingMTA"`
	} `json:"delivery"`
	DeliveryDelay *struct {
		DelayType         string `json:"delayType"`
		DelayedRecipients []struct {
			EmailAddress   string `json:"emailAddress"`
			Status         string `json:"status"`
			DiagnosticCode string `json:"diagnosticCode"`
		} `json:"delayedRecipients"`
	} `json:"deliveryDelay"`
	Mail *struct {
		CommonHeaders struct {
			MessageID string `json:"messageId"`
		} `json:"commonHeaders"`
		Headers []struct {
			Name  string `json:"name"`
			Value string `json:"value"`
		} `json:"headers"`
	} `json:"mail"`
}

// sesNotice reads an Amazon SES bounce, complaint, delivery or delay
// notification sent as JSON in the first text part (SNS email and
// email-json subscriptions). Nil when the text is not one.
func sesNotice(m *message) *BounceReport {
	var text []byte
	for _, p := range m.parts {
		if strings.HasPrefix(p.mediaType, "text/plain") || p.mediaType == "application/json" {
			text = bytes.TrimSpace(p.content)
			break
		}
	}
	if len(text) < 20 || text[0] != '{' || !bytes.Contains(text, []byte("Type")) {
		return nil
	}
	// Mail lines of SNS are cut at about 1,000 bytes with "!" and a
	// folded line, inside JSON strings too: undo that, and make any
	// other line break a space. SNS puts an unsubscribe footer after the
	// JSON: read the first value only.
	text = bytes.ReplaceAll(text, []byte("!\r\n "), nil)
	text = bytes.ReplaceAll(text, []byte("!\n "), nil)
	text = bytes.Map(func(r rune) rune {
		if r == '\r' || r == '\n' {
			return ' '
		}
		return r
	}, text)
	var n sesJSON
	if json.NewDecoder(bytes.NewReader(text)).Decode(&n) != nil {
		return nil
	}
	if n.NotificationType == "" && n.EventType == "" && strings.HasPrefix(strings.TrimSpace(n.Message), "{") {
		var inner sesJSON
		if json.Unmarshal([]byte(n.Message), &inner) != nil {
			return nil
		}
		n = inner
	}
	typ := n.NotificationType
	if typ == "" {
		typ = n.EventType
	}
	rep := &BounceReport{Format: "json"}
	switch {
	case strings.EqualFold(typ, "Bounce") && n.Bounce != nil:
		rep.ReportingMTA = stripType(n.Bounce.ReportingMTA)
		for _, r := range n.Bounce.BouncedRecipients {
			if len(rep.Recipients) >= 100 {
				break
			}
			act := strings.ToLower(r.Action)
			if act == "" {
				act = "failed"
			}
			rep.Recipients = append(rep.Recipients, BounceRecipient{Recipient: strings.ToLower(r.EmailAddress),
				FinalRecipient: strings.ToLower(r.EmailAddress), Action: act, Status: statusCode(r.Status), Diagnostic: stripType(r.DiagnosticCode)})
		}
		rep.Action = "failed"
		rep.Kind = KindPermanent
		if !strings.EqualFold(n.Bounce.BounceType, "Permanent") {
			rep.Kind = KindTransient
		}
		if strings.EqualFold(n.Bounce.BounceSubType, "MailboxFull") {
			rep.Kind = KindMailboxFull
		}
	case strings.EqualFold(typ, "Complaint") && n.Complaint != nil:
		rep.Action, rep.Kind = "complaint", KindComplaint
		rep.FeedbackType = strings.ToLower(cmp.Or(n.Complaint.ComplaintFeedbackType, "abuse"))
		for _, r := range n.Complaint.ComplainedRecipients {
			if len(rep.Recipients) >= 100 {
				break
			}
			a := strings.ToLower(r.EmailAddress)
			rep.Recipients = append(rep.Recipients, BounceRecipient{Recipient: a, FinalRecipient: a, Action: "complaint"})
		}
		rep.Diagnostic = "complaint (" + rep.FeedbackType + ")"
	case strings.EqualFold(typ, "Delivery") && n.Delivery != nil:
		rep.Action, rep.Kind = "delivered", KindSuccess
		rep.ReportingMTA = n.Delivery.ReportingMTA
		for _, a := range n.Delivery.Recipients {
			if len(rep.Recipients) >= 100 {
				break
			}
			a = strings.ToLower(a)
			rep.Recipients = append(rep.Recipients, BounceRecipient{Recipient: a, FinalRecipient: a, Action: "delivered", Diagnostic: n.Delivery.SMTPResponse})
		}
	case strings.EqualFold(typ, "DeliveryDelay") && n.DeliveryDelay != nil:
		rep.Action, rep.Kind = "delayed", KindDelayed
		for _, r := range n.DeliveryDelay.DelayedRecipients {
			if len(rep.Recipients) >= 100 {
				break
			}
			a := strings.ToLower(r.EmailAddress)
			rep.Recipients = append(rep.Recipients, BounceRecipient{Recipient: a, FinalRecipient: a, Action: "delayed", Status: statusCode(r.Status), Diagnostic: stripType(r.DiagnosticCode)})
		}
	default:
		return nil
	}
	if len(rep.Recipients) > 0 {
		r := rep.Recipients[0]
		rep.Recipient, rep.Status = r.Recipient, r.Status
		if r.Diagnostic != "" {
			rep.Diagnostic = r.Diagnostic
		}
	}
	if n.Mail != nil {
		rep.OriginalMessageID = cleanID(n.Mail.CommonHeaders.MessageID)
		for _, h := range n.Mail.Headers {
			if rep.OriginalMessageID == "" && strings.EqualFold(h.Name, "Message-ID") {
				rep.OriginalMessageID = cleanID(h.Value)
			}
		}
	}
	return rep
}
