package loopguard

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/deskmail/deskmail/mailmsg"
)

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
			v = Verdict{Class: Human, Reasons: []string{mailmsg.Printable(fmt.Sprintf("note: classifier failed (%v): treated as human", r))}}
		}
	}()
	return g.classify(env, raw)
}

// classify is Classify without the safety net, so that the fuzzer sees
// any panic.
func (g *Guard) classify(env Envelope, raw []byte) Verdict {
	return g.classifyMessage(env, g.parse(raw))
}

// classifyMessage runs the rules on the parsed email m.
func (g *Guard) classifyMessage(env Envelope, m *message) Verdict {
	e := &evidence{notes: m.notes}
	s := newSubject(rawSubject(m))
	nullPath, pathKnown := reversePath(env, m)
	g.loopRules(e, m)
	reportRules(e, m)
	reportRulesMore(e, m, s, nullPath)
	if !e.decided(Bounce) {
		legacyBounceRules(e, m, env, s, nullPath)
	}
	autoReplyRules(e, m, s)
	exchangeRules(e, m, s, env)
	helpdeskRules(e, m, s, g.opts.OwnMessageID)
	bodyRules(e, m, s)
	senderRules(e, m)
	e.settleNotices()
	bulkRules(e, m)
	if nullPath && e.winner() == Human && !e.decided(Bounce) && e.score(AutoReply) >= wOOFSubject {
		// RFC 3834 §3.3 asks autoresponders for the null reverse path:
		// with an out-of-office subject or text and no report, it is
		// one (Exchange and Notes OOF replies carry no Auto-Submitted).
		e.add(AutoReply, certain, "null reverse path <> and the words of an autoresponder, no delivery report (RFC 3834 §3.3)")
	}
	if nullPath && e.winner() == Human && !e.decided(Bounce) {
		// RFC 5321 §4.5.5: the null reverse path is for notifications
		// only. With nothing decisive to go by, it is a bounce; an
		// auto-reply with RFC 3834 headers was caught above.
		e.add(Bounce, certain, "null reverse path <> (RFC 5321 §4.5.5: used only by notifications)")
		e.bounce = legacyBounce(m, false)
		if e.bounce.Recipient == "" {
			// Nothing says what happened: do not claim a failure.
			e.bounce.Action, e.bounce.Format = "", "unknown"
		}
	}
	if e.bounce != nil {
		e.bounce.Kind = bounceKind(e.bounce)
		if h := attachedOriginal(m); h != nil {
			e.bounce.OwnMail = g.verifyMarker(h.get(strings.ToLower(MarkerHeader)), h.get("message-id"))
		}
	}
	if !pathKnown {
		e.notes = append(e.notes, "reverse path unknown (no envelope, no Return-Path)")
	}
	return e.verdict()
}

// bareCR turns the bare-CR line ends of old Mac mailers into LF: a
// message whose first 8 KiB have a CR and no LF has them. Others are
// returned as they are.
func bareCR(raw []byte) []byte {
	head := raw[:min(len(raw), 8<<10)]
	if bytes.IndexByte(head, '\n') >= 0 || bytes.IndexByte(head, '\r') < 0 {
		return raw
	}
	return bytes.ReplaceAll(raw, []byte{'\r'}, []byte{'\n'})
}

// rawSubject is the Subject field, converted to UTF-8 from the message's
// charset when a mailer wrote it in raw 8-bit (an old Exchange or Notes
// writing ISO-8859-2 into the header) instead of RFC 2047 words.
func rawSubject(m *message) string {
	v := m.header.get("subject")
	if utf8.ValidString(v) {
		return v
	}
	cs := strings.ToLower(m.params["charset"])
	for _, p := range m.parts {
		if cs == "" && strings.HasPrefix(p.mediaType, "text/") {
			cs = strings.ToLower(p.params["charset"])
		}
	}
	if cs == "" {
		cs = "windows-1252"
	}
	return toUTF8(cs, []byte(v))
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

// envelopeSender is the reverse path, from the envelope or, offline,
// Return-Path.
func envelopeSender(env Envelope, m *message) string {
	if !env.Offline || env.MailFrom != "" {
		return strings.ToLower(strings.Trim(env.MailFrom, "<> "))
	}
	return addrSpec(m.header.get("return-path"))
}

func (g *Guard) loopRules(e *evidence, m *message) {
	if n := m.header.count("received"); n > g.opts.MaxReceived {
		e.add(Looping, certain, "%d Received fields, more than %d: the message is going round in circles (RFC 5321 §6.3)", n, g.opts.MaxReceived)
	}
	if v := m.header.get(strings.ToLower(MarkerHeader)); v != "" {
		if g.verifyMarker(v, m.header.get("message-id")) {
			e.add(Looping, certain, "%s verifies: this is deskmail's own email coming back", MarkerHeader)
		} else {
			e.note(MarkerHeader + " present but does not verify (forged, copied, or signed with a retired secret)")
		}
	}
}
