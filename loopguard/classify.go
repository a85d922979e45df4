package loopguard

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// signal is one rule that matched: it votes for a class, with a reason.
type signal struct {
	class  Class
	reason string
}

// evidence collects what the rules found about one message.
type evidence struct {
	signals []signal
	weak    []string // hints that decide only in pairs
	notes   []string
	bounce  *BounceReport
}

func (e *evidence) add(c Class, format string, args ...any) {
	e.signals = append(e.signals, signal{class: c, reason: fmt.Sprintf(format, args...)})
}

func (e *evidence) has(c Class) bool {
	for _, s := range e.signals {
		if s.class == c {
			return true
		}
	}
	return false
}

// Classify gives raw exactly one class. raw may be a truncated prefix of a
// large message; env is the SMTP envelope it came with. Classify never
// panics and never fails: unreadable input is classified from whatever
// could be read.
func (g *Guard) Classify(env Envelope, raw []byte) (v Verdict) {
	defer func() {
		// The rules are fuzzed, so this should never run. If it does, a
		// customer's message is worth more than one extra notification:
		// keep it human (the rate limit still bounds any loop) and say so.
		if r := recover(); r != nil {
			v = Verdict{Class: Human, Reasons: []string{printable(fmt.Sprintf("note: classifier failed (%v): treated as human", r))}}
		}
	}()
	return g.classify(env, raw)
}

// classify is Classify without the safety net, so that the fuzzer sees
// any panic.
func (g *Guard) classify(env Envelope, raw []byte) Verdict {
	m := g.parse(raw)
	e := &evidence{notes: m.notes}
	g.loopRules(e, m)
	nullPath, pathKnown := reversePath(env, m)
	bounceRules(e, m, nullPath)
	autoReplyRules(e, m)
	bulkRules(e, m)
	if len(e.weak) >= 2 && !e.has(AutoReply) {
		e.add(AutoReply, "several hints of an automatic reply: %s", strings.Join(e.weak, "; "))
		e.weak = nil
	}
	if nullPath && len(e.signals) == 0 {
		// RFC 5321 §4.5.5: the null reverse path is for notifications
		// only. Without anything else to go by, it is a bounce; an
		// auto-reply with RFC 3834 headers was caught above.
		e.add(Bounce, "null reverse path <> (RFC 5321 §4.5.5: used only by notifications)")
		e.bounce = legacyBounce(m, false)
		if e.bounce.Recipient == "" {
			// Nothing says what happened: do not claim a failure.
			e.bounce.Action, e.bounce.Format = "", "unknown"
		}
	}
	if e.bounce != nil {
		if h := attachedOriginal(m); h != nil {
			e.bounce.OwnMail = g.verifyMarker(h.get(strings.ToLower(MarkerHeader)), h.get("message-id"))
		}
	}
	if !pathKnown {
		e.notes = append(e.notes, "reverse path unknown (no envelope, no Return-Path)")
	}
	return e.verdict()
}

// verdict picks the class with the strongest evidence and puts its reasons
// first; the other evidence follows as notes.
func (e *evidence) verdict() Verdict {
	v := Verdict{Class: Human}
	for _, s := range e.signals {
		if s.class.priority() > v.Class.priority() {
			v.Class = s.class
		}
	}
	sort.SliceStable(e.signals, func(i, j int) bool {
		return e.signals[i].class.priority() > e.signals[j].class.priority()
	})
	for _, s := range e.signals {
		if s.class == v.Class {
			v.Reasons = append(v.Reasons, s.reason)
		} else {
			v.Reasons = append(v.Reasons, fmt.Sprintf("note: also %s: %s", s.class, s.reason))
		}
	}
	if v.Class == Human {
		v.Reasons = append(v.Reasons, "no sign of automatic mail: written by a person")
	}
	for _, w := range e.weak {
		v.Reasons = append(v.Reasons, "note: single hint, not enough on its own: "+w)
	}
	for _, n := range e.notes {
		v.Reasons = append(v.Reasons, "note: "+n)
	}
	for i, r := range v.Reasons {
		v.Reasons[i] = printable(r)
	}
	if v.Class == Bounce {
		v.Bounce = e.bounce
	}
	return v
}

// reversePath tells whether the message came with the null reverse path,
// from the envelope or, offline, from Return-Path (RFC 5321 §4.4).
func reversePath(env Envelope, m *message) (null, known bool) {
	if !env.Offline || env.MailFrom != "" {
		return strings.Trim(env.MailFrom, "<> ") == "", true
	}
	if !m.header.has("return-path") {
		return false, false
	}
	return strings.Trim(m.header.get("return-path"), "<> \t") == "", true
}

func (g *Guard) loopRules(e *evidence, m *message) {
	if n := m.header.count("received"); n > g.opts.MaxReceived {
		e.add(Looping, "%d Received fields, more than %d: the message is going round in circles (RFC 5321 §6.3)", n, g.opts.MaxReceived)
	}
	if v := m.header.get(strings.ToLower(MarkerHeader)); v != "" {
		if g.verifyMarker(v, m.header.get("message-id")) {
			e.add(Looping, "%s verifies: this is deskmail's own email coming back", MarkerHeader)
		} else {
			e.notes = append(e.notes, MarkerHeader+" present but does not verify (forged, copied, or signed with a retired secret)")
		}
	}
}

// daemonLocalParts are the senders of bounces (RFC 5321 §4.5.5 and
// tradition: Sendmail's MAILER-DAEMON, RFC 2142's postmaster).
var daemonLocalParts = map[string]bool{
	"mailer-daemon": true, "mailerdaemon": true, "mail-daemon": true, "postmaster": true,
	"mdaemon": true, "mail.daemon": true,
	// The Exchange organisation's system mailbox, sender of its NDRs.
	"microsoftexchange329e71ec88ae4615bbc36ab6ce41109e": true,
}

// bounceSubjects start the subject of the bounces of common MTAs whose
// bounce is plain text (or whose report we failed to read).
var bounceSubjects = []string{
	"undelivered mail returned to sender",                                                        // Postfix
	"delivery status notification",                                                               // Gmail, Exchange
	"mail delivery failed",                                                                       // Exim
	"undeliverable:", "undeliverable mail", "unzustellbar:", "non remis", "no se puede entregar", // Exchange/M365
	"failure notice",                               // qmail
	"returned mail:",                               // Sendmail
	"warning: could not send message",              // Sendmail delay warning
	"delayed mail",                                 // Postfix delay warning
	"delivery delayed", "message delivery delayed", // various delay warnings
	"mail delivery failure", "delivery failure", "undelivered mail", "nondeliverable mail",
	"mail system error", "delivery has failed",
}

var delaySubjects = []string{"delayed", "(delay)", "warning: could not send", "still being retried", "not yet been delivered"}

// bounceBodies are phrases of plain-text bounces (qmail's QSBMF, Exim,
// Sendmail, Courier).
var bounceBodies = []string{
	"this is the qmail-send program",
	"i'm afraid i wasn't able to deliver your message",
	"this message was created automatically by mail delivery software",
	"the original message was received at",
	"delivery to the following recipients failed",
	"delivery to the following recipient failed permanently",
	"your message could not be delivered",
	"could not be delivered to one or more of its recipients",
	"this is a permanent error",
}

func bounceRules(e *evidence, m *message, nullPath bool) {
	isReport := m.mediaType == "multipart/report"
	rt := strings.ToLower(m.params["report-type"])
	hasStatus := false
	for _, p := range m.parts {
		if p.mediaType == "message/delivery-status" || p.mediaType == "message/global-delivery-status" {
			hasStatus = true
		}
	}
	if (isReport && strings.HasSuffix(rt, "delivery-status")) || hasStatus {
		rep := bounceFromReport(m)
		if rep == nil {
			rep = legacyBounce(m, false)
			e.notes = append(e.notes, "delivery-status part unreadable: report read as text")
		}
		e.add(Bounce, "delivery status notification: multipart/report; report-type=delivery-status (RFC 3464)")
		if rep.Action == "delayed" {
			e.add(Bounce, "Action: delayed: a warning, the email is still queued (RFC 3464 §2.3.3)")
		}
		e.bounce = rep
		return
	}
	if isReport && rt == "disposition-notification" {
		e.add(AutoReply, "read receipt: multipart/report; report-type=disposition-notification (RFC 8098)")
		return
	}
	subject := strings.ToLower(strings.TrimSpace(decodeWords(m.header.get("subject"))))
	from := addrSpec(m.header.get("from"))
	daemon := daemonLocalParts[localPart(from)] || nullPath
	if v := m.header.get("x-failed-recipients"); v != "" {
		e.add(Bounce, "X-Failed-Recipients: %s (Exim adds it to its bounces only)", v)
	}
	if daemon {
		who := "From " + from
		if nullPath {
			who = "null reverse path"
		}
		for _, s := range bounceSubjects {
			if strings.HasPrefix(subject, s) {
				e.add(Bounce, "%s and a bounce subject %q", who, s)
				break
			}
		}
		body := strings.ToLower(string(firstText(m, 64<<10)))
		for _, s := range bounceBodies {
			if strings.Contains(body, s) {
				e.add(Bounce, "%s and bounce text %q", who, s)
				break
			}
		}
	}
	if e.has(Bounce) {
		delayed := false
		for _, s := range delaySubjects {
			if strings.Contains(subject, s) {
				delayed = true
			}
		}
		e.bounce = legacyBounce(m, delayed)
		if delayed {
			e.add(Bounce, "delay warning: the email is still queued")
		}
	}
}

// firstText returns up to max bytes of the first text part.
func firstText(m *message, max int) []byte {
	for _, p := range m.parts {
		if strings.HasPrefix(p.mediaType, "text/") {
			if len(p.content) > max {
				return p.content[:max]
			}
			return p.content
		}
	}
	return nil
}

// printable makes a reason safe for a terminal, a log line and JSON: the
// errors of a MIME parser quote the hostile bytes that caused them.
func printable(s string) string {
	const max = 300
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= max {
			b.WriteString("...")
			break
		}
		if r == utf8.RuneError || (r < 0x20 && r != '\t') || r == 0x7f {
			r = '?'
		}
		b.WriteRune(r)
	}
	return b.String()
}
