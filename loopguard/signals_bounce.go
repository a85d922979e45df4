package loopguard

import (
	"strings"
)

// reportRules reads the machine-readable reports of RFC 6522
// multipart/report: delivery status (RFC 3464), read receipts (RFC 8098)
// and abuse feedback (RFC 5965 ARF).
func reportRules(e *evidence, m *message) {
	isReport := m.mediaType == "multipart/report"
	rt := strings.ToLower(m.params["report-type"])
	hasStatus, hasFeedback := false, false
	for _, p := range m.parts {
		switch p.mediaType {
		case "message/delivery-status", "message/global-delivery-status":
			hasStatus = true
		case "message/feedback-report":
			hasFeedback = true
		}
	}
	switch {
	case (isReport && rt == "feedback-report") || hasFeedback:
		rep := feedbackReport(m)
		e.add(Bounce, certain, "abuse feedback report: multipart/report; report-type=feedback-report (RFC 5965 ARF, feedback type %q): never answered; the complainant is suppressed like a hard bounce", rep.FeedbackType)
		e.bounce = rep
	case (isReport && strings.HasSuffix(rt, "delivery-status")) || hasStatus:
		rep := bounceFromReport(m)
		if rep == nil {
			rep = legacyBounce(m, false)
			e.note("delivery-status part unreadable: report read as text")
		}
		e.add(Bounce, certain, "delivery status notification: multipart/report; report-type=delivery-status (RFC 3464)")
		if rep.Action == "delayed" {
			e.add(Bounce, 1, "Action: delayed: a warning, the email is still queued (RFC 3464 §2.3.3)")
		}
		e.bounce = rep
	case isReport && rt == "disposition-notification":
		e.add(AutoReply, certain, "read receipt: multipart/report; report-type=disposition-notification (RFC 8098)")
	}
}

// legacyBounceRules finds the bounces that are not RFC 3464 reports:
// GroupWise, Domino, old Sendmail, qmail, appliances. The sender must be a
// mail system (MAILER-DAEMON, postmaster... in From or the envelope, or
// the null reverse path): a person's "Delivery failed" about a parcel is
// not a bounce, whatever its words.
func legacyBounceRules(e *evidence, m *message, env Envelope, s subject, nullPath bool) {
	if v := m.header.get("x-failed-recipients"); v != "" {
		e.add(Bounce, certain, "X-Failed-Recipients: %s (Exim adds it to its bounces only)", clip(v))
	}
	from := addrSpec(m.header.get("from"))
	if from == "" {
		// "From: mailer-daemon", "From: MAILER-DAEMON <>": a bare
		// local part or a display name only.
		if f := strings.Fields(strings.Trim(m.header.get("from"), "<> \"")); len(f) > 0 && isDaemon(strings.Trim(f[0], "<>\"")) {
			from = strings.ToLower(strings.Trim(f[0], "<>\""))
		}
	}
	sender := envelopeSender(env, m)
	daemon := ""
	switch {
	case nullPath:
		daemon = "null reverse path"
		e.add(Bounce, wNullPath, "null reverse path <> (RFC 5321 §4.5.5)")
	case isDaemon(localPart(from)):
		daemon = "From " + from
		e.add(Bounce, wDaemonSender, "sent by the mail system %s", from)
	case isDaemon(localPart(sender)):
		daemon = "envelope sender " + sender
		e.add(Bounce, wDaemonSender, "envelope sender %s is a mail system", sender)
	case isListManager(localPart(from)) || fmlAdmin(m.header, from):
		daemon = "From " + from
		e.add(Bounce, wDaemonSender, "sent by the list manager %s", from)
	case mailProgramLead(m.leadLines()) != "":
		p := mailProgramLead(m.leadLines())
		daemon = "the text opens as a mail program's " + strconvQuote(p)
		e.add(Bounce, wMailProgram, "the text opens as a mail program naming itself: %q", p)
	default:
		if n := findAny(strings.ToLower(displayName(m.header.get("from"))), daemonNames); n != "" {
			daemon = "sender name " + strconvQuote(n)
			e.add(Bounce, wDaemonName, "sender name %q is a mail system's", n)
		}
	}
	if daemon == "" && machineSender(from) {
		// An appliance or gateway that sends its NDRs from noreply@:
		// a bounce subject and bounce text (or the fields of a report
		// written as text) must then both be there.
		subj, text := s.hits.first(sBounce), m.phrases().first(bBounce)
		if text == "" {
			text = reportText(m)
		}
		if subj != "" && text != "" && !s.reply && !s.forward {
			e.add(Bounce, wBounceSubject, "sender %s is a machine's and a bounce subject %q", from, subj)
			e.add(Bounce, wBouncePhrase, "sender %s is a machine's and bounce text %q", from, text)
		}
	}
	if daemon == "" && !machineSender(from) && !s.reply && !s.forward {
		// A gateway that sends its NDRs from its product's own address
		// (MailMarshal@, imss@) with a reverse path that is not null:
		// the three parts of a non-delivery report must all be there,
		// in the sender's own words: an NDR title, NDR text and the
		// SMTP refusal with its enhanced status code.
		// The refusal is looked for last: the subject and the text are
		// found by the one pass of the phrase tables, the refusal by a
		// regular expression over the text.
		if subj, text := s.hits.first(sBounce), m.phrases().first(bBounce); subj != "" && text != "" {
			if refusal := ownSMTPFailure(m); refusal != "" {
				e.add(Bounce, wBounceSubject, "a bounce subject %q", subj)
				e.add(Bounce, wBouncePhrase, "bounce text %q with the SMTP refusal %q in the sender's own words", text, refusal)
			}
		}
	}
	if daemon == "" && !e.decided(Bounce) {
		return
	}
	if daemon != "" {
		report := false
		if !s.reply && !s.forward {
			if b := s.hits.first(sBounce); b != "" {
				e.add(Bounce, wBounceSubject, "%s and a bounce subject %q", daemon, b)
				report = true
			}
		}
		if b := m.phrases().first(bBounce); b != "" {
			e.add(Bounce, wBouncePhrase, "%s and bounce text %q", daemon, b)
			report = true
		} else if f := reportText(m); f != "" {
			e.add(Bounce, wBouncePhrase, "%s and the delivery report field %q in the text", daemon, f)
			report = true
		} else if r := smtpFailure(m); r != "" {
			e.add(Bounce, wBouncePhrase, "%s and the SMTP refusal %q in the text", daemon, r)
			report = true
		}
		if nullPath && (report || hasAttachedMessage(m)) {
			// RFC 5321 §4.5.5: the null reverse path with a delivery
			// report is a bounce, whatever Auto-Submitted says (many
			// MTAs put auto-replied or auto-generated on their DSNs).
			e.add(Bounce, certain, "null reverse path with a delivery report: a bounce (RFC 5321 §4.5.5, RFC 3464)")
		}
	}
	if !e.decided(Bounce) {
		return
	}
	delayed := s.hits.first(sDelay) != ""
	e.bounce = legacyBounce(m, delayed)
	if delayed {
		e.add(Bounce, 1, "delay warning: the email is still queued")
	}
}

// fmlAdmin tells whether the message is a notice of the fml list manager
// (X-MLServer, X-ML-Name) from its list's admin or request address; its
// posts carry the same fields with their author in From.
func fmlAdmin(h header, from string) bool {
	if !h.has("x-mlserver") && !h.has("x-ml-name") {
		return false
	}
	lp := strings.ToLower(localPart(from))
	return strings.HasSuffix(lp, "-admin") || strings.HasSuffix(lp, "-request") || strings.HasPrefix(lp, "fml")
}

// feedbackReport reads an RFC 5965 feedback report: the complainant is
// Original-Rcpt-To (RFC 5965 §3.2), else the To of the attached copy of
// our email; the reported email is that copy's Message-ID.
func feedbackReport(m *message) *BounceReport {
	rep := &BounceReport{Format: "arf", Action: "complaint"}
	for _, p := range m.parts {
		if p.mediaType != "message/feedback-report" {
			continue
		}
		h, _, _ := readHeader(append(trimSpace(p.content), '\n'), maxReportScan)
		rep.FeedbackType = strings.ToLower(firstWord(h.get("feedback-type")))
		rep.Recipient = strings.ToLower(stripType(h.get("original-rcpt-to")))
		rep.ReportingMTA = stripType(h.get("reporting-mta"))
		if rep.ReportingMTA == "" {
			rep.ReportingMTA = clip(h.get("user-agent"))
		}
		break
	}
	orig := attachedOriginal(m)
	if rep.Recipient == "" {
		rep.Recipient = addrSpec(orig.get("to"))
	}
	rep.OriginalMessageID = cleanID(orig.get("message-id"))
	if rep.OriginalMessageID == "" {
		rep.OriginalMessageID = originalMessageID(m)
	}
	if rep.FeedbackType == "" {
		rep.FeedbackType = "abuse"
	}
	rep.Diagnostic = "feedback report (" + rep.FeedbackType + ")"
	if rep.Recipient != "" {
		rep.Recipients = []BounceRecipient{{Recipient: rep.Recipient, FinalRecipient: rep.Recipient, Action: rep.Action, Diagnostic: rep.Diagnostic}}
	}
	return rep
}

// trimSpace is bytes.TrimSpace returning a copy, so that appending to it
// never writes into the message.
func trimSpace(b []byte) []byte {
	return []byte(strings.TrimSpace(string(b)))
}

// machineSender tells whether addr's local part is one nobody reads
// (noreply@, notifications@...).
func machineSender(addr string) bool {
	lp := strings.ToLower(localPart(addr))
	return lp != "" && (localPartIn(lp, noReplySenders, true) || localPartIn(lp, noticeSenders, true) || localPartIn(lp, systemSenders, false))
}

// mailProgramLead returns the phrase of mailPrograms one of the lead
// lines (the author's own first lines, quotes cut) opens with, or "".
func mailProgramLead(lines []string) string {
	for _, l := range lines {
		l = strings.TrimLeft(l, "*-=# \t")
		for _, p := range mailPrograms {
			if strings.HasPrefix(l, p) {
				return p
			}
		}
	}
	return ""
}

// ownSMTPFailure finds an SMTP refusal with an enhanced status code
// ("550 5.1.1 User unknown") in the author's own words, quotes cut.
func ownSMTPFailure(m *message) string {
	w := m.words()
	w = w[:min(len(w), maxLegacyScan)]
	if !mayHoldSMTPReply(w) {
		return ""
	}
	if s := smtpReplyRE.FindString(w); s != "" && statusRE.MatchString(s) {
		return clipWords([]byte(s), 80)
	}
	return ""
}

// mayHoldSMTPReply tells whether s has what every match of smtpReplyRE
// starts with: 4 or 5, two digits, then a space or a hyphen. Without it
// the regular expression cannot match, and that is most text.
func mayHoldSMTPReply(s string) bool {
	for i := 0; i+3 < len(s); i++ {
		if (s[i] == '4' || s[i] == '5') && isDigit(s[i+1]) && isDigit(s[i+2]) && (s[i+3] == ' ' || s[i+3] == '-') {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
