package loopguard

import (
	"bytes"
	"regexp"
	"strings"
)

// subject is the Subject as the rules compare it: RFC 2047 decoded, lower
// case, white space collapsed, gateway tags such as "[EXTERNAL]" dropped.
type subject struct {
	text           string
	bare           string // text without leading "[...]" tags
	reply, forward bool
	hits           phraseHits // the subject tables' phrases found in text
}

func newSubject(raw string) subject {
	t := strings.TrimSpace(string(appendNormal(nil, strings.ToLower(decodeWords(raw)))))
	for changed := true; changed; {
		changed = false
		for _, tag := range subjectTags {
			if strings.HasPrefix(t, tag) {
				t, changed = strings.TrimSpace(t[len(tag):]), true
			}
		}
	}
	s := subject{text: t, hits: subjectPhrases.scan(t)}
	// "[Ticket#123] Re: ..." and "[Globex] Re: ...": a helpdesk puts its
	// tag before the reply prefix.
	for strings.HasPrefix(t, "[") {
		end := strings.IndexByte(t, ']')
		if end < 0 {
			break
		}
		t = strings.TrimSpace(t[end+1:])
	}
	s.bare = t
	for _, p := range replyPrefixes {
		if strings.HasPrefix(t, p) {
			s.reply = true
		}
	}
	for _, p := range forwardPrefixes {
		if strings.HasPrefix(t, p) {
			s.forward = true
		}
	}
	return s
}

// autoReplyRules reads the fields that say a message is automatic: RFC
// 3834's Auto-Submitted, the older X-Autoreply family, Precedence, and
// Exchange's request that nobody answer.
func autoReplyRules(e *evidence, m *message, s subject) {
	h := m.header
	if v := h.get("auto-submitted"); v != "" {
		// RFC 3834 §5: any value but "no" means a machine sent it
		// (auto-replied, auto-generated, auto-notified of RFC 5436...).
		// Apple iCloud adds an owner-email parameter; Sieve vacation
		// (RFC 5230 §5) and Gmail write auto-replied; Exchange writes
		// auto-generated.
		if firstWord(v) == "no" {
			e.note("Auto-Submitted: no: the sender says a person wrote it (RFC 3834 §5)")
		} else {
			e.add(AutoReply, certain, "Auto-Submitted: %s (RFC 3834 §5)", clip(v))
		}
	}
	for _, name := range autoReplyHeaders {
		if !h.has(name) {
			continue
		}
		v := strings.ToLower(strings.TrimSpace(h.get(name)))
		if v == "no" || v == "false" || v == "0" || v == "off" {
			continue
		}
		e.add(AutoReply, certain, "%s: %s (autoresponder field)", canonical(name), clip(h.get(name)))
	}
	for _, name := range []string{"precedence", "x-precedence"} {
		v := strings.ToLower(strings.TrimSpace(h.get(name)))
		switch v {
		case "":
		case "auto_reply", "auto-reply":
			// RFC 3834 §3.1.8 mentions it as the field vacation
			// programs set; osTicket and many others still do.
			e.add(AutoReply, certain, "%s: %s", canonical(name), v)
		case "bulk", "list", "junk":
			// RFC 2076 §3.9, RFC 3834 §2: never answer these.
			e.add(Bulk, certain, "%s: %s (RFC 2076, RFC 3834 §2)", canonical(name), v)
		default:
			e.note(canonical(name) + ": " + clip(v) + " does not mark automatic mail")
		}
	}
	for _, f := range vendorAutoReplyHeaders {
		v := strings.ToLower(h.get(f.name))
		if v == "" || v == "no" || v == "false" || v == "0" {
			continue
		}
		if f.name == "x-apple-action" && strings.Contains(v, "vacation") {
			// iCloud's vacation reply carries it, often without
			// Auto-Submitted, and nothing else does.
			e.add(AutoReply, certain, "X-Apple-Action: %s (iCloud's vacation reply)", clip(h.get(f.name)))
			continue
		}
		if p := findAny(v, f.values); p != "" || f.values[0] == "" {
			e.once("vendor-autoreply", AutoReply, wVendorAutoReply, "%s: %s (a vendor's autoresponder field)", canonical(f.name), clip(h.get(f.name)))
		}
	}
	if v := h.get("x-auto-response-suppress"); v != "" {
		// Exchange puts "All" on its OOF replies and SaaS tools on their
		// notices, but senders also put it on ordinary mail to ask
		// others not to answer automatically: a hint.
		if xarsSuppressesReplies(v) {
			e.add(AutoReply, wSuppress, "X-Auto-Response-Suppress: %s (Exchange's automatic mail asks not to be answered)", clip(v))
		}
	}
	for _, p := range oofSuffixes {
		// AOL and others answer "Re: <subject> (Automatic Response)".
		if strings.HasSuffix(s.text, p) {
			e.add(AutoReply, wOOFSuffix, "subject ends like an automatic response %q", p)
			break
		}
	}
	if !s.reply && !s.forward {
		if p, rest := s.oofTitle(); p != "" {
			e.add(AutoReply, wOOFSubject, "out-of-office subject %q", p)
			if hasAnyPrefix(rest, replyPrefixes) || hasAnyPrefix(rest, forwardPrefixes) {
				e.add(AutoReply, wOOFOnReply, "the title %q stands before the subject it answers %q", p, clip(rest))
			}
		}
		if p := s.hits.first(sNotice); p != "" {
			e.notice(wNoticeSubject, "subject of a machine-made notice "+strconvQuote(p), false)
		} else if p := s.hits.first(sNoticeWord); p != "" {
			e.notice(wNoticeSubject, "subject word of a machine-made notice "+strconvQuote(p), true)
		}
	}
}

// subjectDecor is what autoresponders put around their title
// ("*** Automatische Antwort ***", "【自动回复】").
const subjectDecor = "*#-=_()<>!. \t「『【"

// oofTitle returns the out-of-office title the subject opens with (also
// inside decoration such as "*** ... ***") and what follows it, or "".
func (s subject) oofTitle() (title, rest string) {
	for _, t := range []string{s.text, s.bare, strings.TrimLeft(s.bare, subjectDecor)} {
		for _, p := range oofSubjects {
			if strings.HasPrefix(t, p) {
				return p, strings.TrimLeft(t[len(p):], subjectDecor+":：–—]】」』")
			}
		}
	}
	return "", ""
}

// xarsSuppressesReplies tells whether an X-Auto-Response-Suppress value
// names All, OOF or AutoReply among its comma-separated tokens (MS-OXCMAIL
// 2.2.3.2.20): compared token by token, not as a substring.
func xarsSuppressesReplies(v string) bool {
	for _, t := range strings.FieldsFunc(strings.ToLower(v), func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == ';' }) {
		if t == "all" || t == "oof" || t == "autoreply" {
			return true
		}
	}
	return false
}

// exchangeRules weighs the fields Exchange and Microsoft 365 stamp on mail
// their rules produce. An out-of-office reply has them, but so has a
// person's message that an inbox or transport rule redirected or
// forwarded: that one is still the person's, and the rule fields count
// for nothing when the message shows it was passed on.
func exchangeRules(e *evidence, m *message, s subject, env Envelope) {
	h := m.header
	w := 0
	if v := h.get("x-ms-exchange-generated-message-source"); v != "" {
		e.add(AutoReply, wExchangeAgent, "X-MS-Exchange-Generated-Message-Source: %s (generated by an Exchange agent)", clip(v))
		w += wExchangeAgent
	}
	owner := ""
	if v := h.get("x-ms-exchange-inbox-rules-loop"); v != "" {
		e.add(AutoReply, wInboxRule, "X-MS-Exchange-Inbox-Rules-Loop: %s (passed through an Exchange inbox rule)", clip(v))
		w += wInboxRule
		owner = addrSpec(v)
	}
	from := addrSpec(h.get("from"))
	srsFrom, srsVia := srsOriginal(envelopeSender(env, m))
	if srsVia != "" {
		e.note("envelope rewritten by SRS at " + srsVia + " (forwarded by a server) for " + srsFrom)
	}
	if w == 0 {
		return
	}
	// The mailbox named by the inbox rule wrote this message itself (an
	// OOF, or a forward it made), or it passed on someone else's.
	ownerWrote := owner != "" && from != "" && (owner == from || sameDomain(owner, from))
	switch {
	case owner != "" && from != "" && !ownerWrote:
		e.add(AutoReply, -w, "From %s is not the mailbox %s whose rule sent it on: a person's message redirected by an inbox rule", from, owner)
	case s.forward:
		e.add(AutoReply, -w, "subject %q is a forward: a person's message forwarded by a rule", clip(s.text))
	case ownerWrote:
		// An out-of-office reply of that mailbox: nothing to take back.
	case srsFrom != "" && from != "" && sameDomain(srsFrom, from) && !s.reply:
		e.add(AutoReply, -w, "the SRS envelope names %s, the author in From: a person's message forwarded by a rule", srsFrom)
	case h.has("resent-from") || strings.EqualFold(h.get("x-ms-exchange-organization-autoforwarded"), "true"):
		e.add(AutoReply, -w, "Resent-From or AutoForwarded: a person's message redirected by a rule")
	}
}

// srsOriginal decodes an SRS0/SRS1 envelope sender
// (SRS0=HHH=TT=domain=local@forwarder) into the original sender and the
// forwarder; both are "" for other addresses.
func srsOriginal(addr string) (orig, via string) {
	l := strings.ToLower(localPart(addr))
	if !strings.HasPrefix(l, "srs0=") && !strings.HasPrefix(l, "srs1=") {
		return "", ""
	}
	via = addr[strings.LastIndexByte(addr, '@')+1:]
	f := strings.Split(localPart(addr), "=")
	if len(f) < 5 {
		return "", via
	}
	local := strings.Join(f[4:], "=")
	return strings.ToLower(local + "@" + f[3]), via
}

func sameDomain(a, b string) bool {
	da, db := a[strings.LastIndexByte(a, '@')+1:], b[strings.LastIndexByte(b, '@')+1:]
	return da != "" && strings.EqualFold(da, db)
}

// maxFieldsScanned caps the header fields searched for a product's own.
const maxFieldsScanned = 500

var (
	// ticketRE finds another system's ticket number in a subject:
	// "[Ticket#2026112510000012]", "Case 00123456", "(Request #4711)",
	// "[INC-1234]", "##4711##".
	ticketRE = regexp.MustCompile(`(?i)(?:\b(?:ticket|case|request|incident|req|inc|sr|tkt|anfrage|vorgang|demande|caso|solicitud|richiesta|aanvraag|zgłoszenie|požadavek)\s*(?:#|no\.?|nr\.?|number|id|:)?\s*:?\s*#?\s*[a-z]{0,4}-?\d{3,})|(?:\[[a-z]{1,8}[#:-]\s*\d{3,}\])|(?:##\s*\d{3,}\s*##)|(?:\[#[a-z]+-?\d{3,}\])|(?:\[[^\]#]{1,40}#\s*\d{3,}\])`)
	// ownTagRE is deskmail's own subject tag, which a reply to our mail
	// carries and which is no sign of another helpdesk.
	ownTagRE = regexp.MustCompile(`\[#\d+\]`)
)

// findTicket is ticketRE.FindString(s), the regular expression run only
// on a subject that may match it: every match holds three ASCII digits
// in a row, and a '[', "##" or one of the keywords; with (?i) a keyword
// may be spelled with a non-ASCII letter (K, the Kelvin sign, folds to
// k; ſ to s), so any subject that is not ASCII goes to the expression.
func findTicket(s string) string {
	if !mayHoldTicket(s) {
		return ""
	}
	return ticketRE.FindString(s)
}

// ticketNeedles are the keywords of ticketRE, lower case, shortened
// where one is a prefix of others ("cas" for case and caso, "req" for
// request, "inc" for incident); a subject without any of them, a '['
// or "##" cannot match.
var ticketNeedles = [][]byte{[]byte("ticket"), []byte("cas"), []byte("req"), []byte("inc"), []byte("sr"), []byte("tkt"),
	[]byte("anfrage"), []byte("vorgang"), []byte("demande"), []byte("solicitud"), []byte("richiesta"), []byte("aanvraag")}

func mayHoldTicket(s string) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x80 {
			return true
		}
		if '0' <= c && c <= '9' {
			run++
		} else if run < 3 {
			run = 0
		}
	}
	if run < 3 {
		return false
	}
	if strings.IndexByte(s, '[') >= 0 || strings.Contains(s, "##") {
		return true
	}
	var buf [256]byte
	lower := buf[:0]
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower = append(lower, c)
	}
	for _, n := range ticketNeedles {
		if bytes.Contains(lower, n) {
			return true
		}
	}
	return false
}

// helpdeskRules finds another ticket system's acknowledgement: the
// product's own fields and mailer, a ticket number, an acknowledgement
// subject, a reply to an email of ours. Each is a hint, since the agents
// of that helpdesk write from it too.
func helpdeskRules(e *evidence, m *message, s subject, own func(string) bool) {
	h := m.header
	for _, name := range []string{"x-mailer", "user-agent"} {
		v := strings.ToLower(h.get(name))
		if p := findAny(v, helpdeskMailers); p != "" && findAny(v, feedMailers) == "" {
			e.once("helpdesk", AutoReply, wHelpdeskMailer, "%s of a ticket system: %s", canonical(name), clip(h.get(name)))
		}
	}
	for i, f := range h {
		if i >= maxFieldsScanned {
			// A ticket system's fields are among the first few
			// dozen; a header of 40 000 fields is not searched whole.
			break
		}
		if nameIn(f.name, helpdeskHeaders) || hasAnyPrefix(f.name, helpdeskHeaderPrefixes) {
			e.once("helpdesk", AutoReply, wHelpdeskHeader, "field of a ticket system: %s", canonical(f.name))
		}
	}
	if !s.reply {
		if t := findTicket(s.text); t != "" && !ownTagRE.MatchString(t) {
			// People quote ticket numbers in their subjects too: it
			// counts only beside another sign of a ticket system
			// (settleNotices).
			e.ticket = t
		}
	}
	if !s.reply && !s.forward {
		if p := s.hits.first(sAck); p != "" {
			e.add(AutoReply, wAckSubject, "acknowledgement subject %q", p)
		}
	}
	if own != nil {
		for _, id := range strings.Fields(h.get("in-reply-to")) {
			if own(cleanID(id)) {
				e.add(AutoReply, wOwnInReplyTo, "In-Reply-To names deskmail's own email %s (an answer to our mail: the loop that hurts)", clip(cleanID(id)))
				break
			}
		}
	}
}

// bodyRules reads the author's own words (quotes and forwarded copies cut
// off): challenge-response requests, automatic-mail boilerplate,
// acknowledgements, out-of-office texts and notices, in several
// languages, from text or HTML.
func bodyRules(e *evidence, m *message, s subject) {
	w := m.words()
	if w == "" {
		return
	}
	challengeRules(e, m.phrases())
	if p := s.hits.first(sVerify); p != "" && !s.reply && !s.forward {
		e.add(AutoReply, wVerifySubject, "verification subject %q", p)
	}
	if p := m.phrases().first(bAuto); p != "" {
		e.add(AutoReply, wAutoPhrase, "text says it is automatic: %q", p)
	}
	if p := m.phrases().first(bAck); p != "" {
		e.add(AutoReply, wAckPhrase, "acknowledgement text %q", p)
	}
	if p := m.phrases().first(bOOF); p != "" {
		e.add(AutoReply, wOOFPhrase, "out-of-office text %q", p)
	}
	if p := leadMarker(m.leadLines()); p != "" {
		e.add(AutoReply, wOOFLead, "the text opens with an autoresponder's title %q", p)
	}
	if p := m.phrases().first(bNotice); p != "" {
		e.notice(wNoticePhrase, "notice boilerplate "+strconvQuote(p), false)
	}
}

// leadMarker finds an autoresponder's title standing alone at the start
// of one of the first lines ("*** Automatische Antwort ***", "自动回复：
// 我正在休假", "Auto reply - I am away"): the title followed by nothing,
// or by a colon, a dash or a closing mark, never by more words of a
// sentence, and never in a question, so that a person writing "Auto
// reply question: how do I switch it off?" is not taken for one.
func leadMarker(lines []string) string {
	for _, l := range lines {
		if strings.ContainsAny(l, "?？") {
			continue
		}
		t := strings.TrimLeft(l, subjectDecor+"[]")
		for _, p := range oofSubjects {
			if !strings.HasPrefix(t, p) || notLeadTitles[p] {
				continue
			}
			rest := strings.TrimLeft(t[len(p):], " ")
			if rest == "" || strings.ContainsRune("*:：-–—=_]】」』)!.,，。", []rune(rest)[0]) {
				return p
			}
		}
	}
	return ""
}

// challengeRules finds challenge-response filters. A phrase of
// challengePhrases decides alone. Weaker words (a verify word with a
// human word, "captcha", "spam filter"...) count only when the text also
// says the sender's message is held or will be delivered: a customer
// writing "your captcha will not let me verify I'm human" is a person.
func challengeRules(e *evidence, h phraseHits) {
	if p := h.first(bChallenge); p != "" {
		e.add(AutoReply, wChallengePhrase, "challenge-response text %q: a filter asks the sender to prove a person wrote", p)
		return
	}
	type hint struct {
		w      int
		reason string
	}
	var hints []hint
	if v, hu := h.first(bVerify), h.first(bHuman); v != "" && hu != "" {
		hints = append(hints, hint{wVerifyHuman, "asks to " + v + "... " + hu + ": a challenge-response filter"})
	}
	for _, p := range h.all(bChallengeHint) {
		if len(hints) < 3 {
			hints = append(hints, hint{wChallengeHint, "challenge-response word " + strconvQuote(p)})
		}
	}
	if len(hints) == 0 {
		return
	}
	held := h.first(bHeld)
	if held == "" {
		e.add(AutoReply, 4, "challenge-like words (%s) but nothing says a message is held", strings.TrimPrefix(hints[0].reason, "challenge-response word "))
		return
	}
	for _, hi := range hints {
		e.add(AutoReply, hi.w, "%s", hi.reason)
	}
	e.add(AutoReply, wHeldMessage, "says the sender's message is held: %q", held)
}

// senderRules weighs senders nobody reads (noreply@) and notice robots.
// A web form sends a person's message from noreply@ with the person in
// Reply-To: that sender is no hint.
func senderRules(e *evidence, m *message) {
	from := addrSpec(m.header.get("from"))
	lp := strings.ToLower(localPart(from))
	if lp == "" || isDaemon(lp) {
		return
	}
	w, why := 0, ""
	switch {
	case localPartIn(lp, noReplySenders, true):
		w, why = wNoReplySender, "sender "+lp+"@ is not read by a person"
	case localPartIn(lp, noticeSenders, true):
		w, why = wNoticeSender, "sender "+lp+"@ is a notice robot's"
	case localPartIn(lp, systemSenders, false):
		w, why = wSystemSender, "sender "+lp+"@ is a system's"
	default:
		return
	}
	e.add(AutoReply, w, "%s", why)
	if rt := addrSpec(m.header.get("reply-to")); rt != "" && !related(rt, from) {
		e.add(AutoReply, wContactForm, "Reply-To %s is another domain's: a web form or a mailer writing for someone", rt)
	}
}

// localPartIn tells whether local part lp is one of list, or one of them
// followed by "+", "-", "." or "_" (noreply-billing@); with contains,
// also when it holds one of six letters or more (account-security-noreply@).
func localPartIn(lp string, list []string, contains bool) bool {
	for _, s := range list {
		if lp == s || hasPrefixSep(lp, s) || (contains && len(s) >= 6 && strings.Contains(lp, s)) {
			return true
		}
	}
	return false
}

// hasPrefixSep tells whether lp starts with s and one of + - . _ after it.
func hasPrefixSep(lp, s string) bool {
	if len(lp) <= len(s) || lp[:len(s)] != s {
		return false
	}
	switch lp[len(s)] {
	case '+', '-', '.', '_':
		return true
	}
	return false
}

// related tells whether two addresses share a domain, or one's domain
// ends with the other's (mail.vendor.example and vendor.example).
func related(a, b string) bool {
	da := strings.ToLower(a[strings.LastIndexByte(a, '@')+1:])
	db := strings.ToLower(b[strings.LastIndexByte(b, '@')+1:])
	return da == db || strings.HasSuffix(da, "."+db) || strings.HasSuffix(db, "."+da)
}

// nameIn tells whether the lower-cased field name is one of names,
// exactly.
func nameIn(name string, names []string) bool {
	for _, n := range names {
		if name == n {
			return true
		}
	}
	return false
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
