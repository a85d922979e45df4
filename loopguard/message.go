package loopguard

import (
	"fmt"
	"strings"

	"github.com/deskmail/deskmail/mailmsg"
)

// This file adapts the one parse of an email (mailmsg.Message) to what
// the rules read: a header with lower-cased names and raw values, the
// leaves of the MIME tree with the first bytes of the parts the rules
// read, transfer-decoded, and the notes of the parse.

// message is what the rules look at: the top-level header, the leaves of
// the MIME tree, and notes on anything that went wrong while reading.
type message struct {
	header    header
	mediaType string
	params    map[string]string
	parts     []part
	notes     []string
	text      *string  // the author's own words, lower-cased, made on first use (bodytext.go)
	lead      []string // the first lines of the author's own words, made with text
	hits      *phraseHits
}

// part is a leaf of the MIME tree as the classifier sees it.
type part struct {
	header    header
	mediaType string
	params    map[string]string
	content   []byte // transfer-decoded, up to the caps below
	depth     int    // 0 for a single-part message
}

// field is one header field, unfolded, its name lower-cased and its value
// raw (encoded words left as written).
type field struct {
	name  string
	value string
}

// header is the ordered list of fields of a message or a MIME part.
type header []field

func (h header) get(name string) string {
	for _, f := range h {
		if f.name == name {
			return f.value
		}
	}
	return ""
}

func (h header) has(name string) bool {
	for _, f := range h {
		if f.name == name {
			return true
		}
	}
	return false
}

func (h header) count(name string) int {
	n := 0
	for _, f := range h {
		if f.name == name {
			n++
		}
	}
	return n
}

func fromFields(mh mailmsg.Header) header {
	if mh == nil {
		return nil
	}
	h := make(header, len(mh))
	for i, f := range mh {
		h[i] = field{name: f.Name, value: f.Raw}
	}
	return h
}

// oneReading is the top-level header the rules read, with the fields that
// name messages and people given as the pipeline's one parse read them:
// Message-ID, In-Reply-To and References hold mailmsg's IDs (space
// separated, no angle brackets: cleanID and strings.Fields read them back
// unchanged), Reply-To its address. From stays as written: when mailmsg
// found one author, addrSpec reads that author from it (FuzzOneReading in
// intake holds this); when it found none, no step attributes the email,
// and the rules may still read an address in it as a sign of a machine.
func oneReading(mm *mailmsg.Message) header {
	h := fromFields(mm.Header)
	done := map[string]bool{}
	for i, f := range h {
		if done[f.name] {
			continue
		}
		switch f.name {
		case "message-id":
			h[i].value = mm.MessageID
		case "in-reply-to":
			h[i].value = strings.Join(mm.InReplyTo, " ")
		case "references":
			h[i].value = strings.Join(mm.References, " ")
		case "reply-to":
			h[i].value = ""
			if len(mm.ReplyTo) > 0 {
				h[i].value = mm.ReplyTo[0].Addr
			}
		default:
			continue
		}
		done[f.name] = true
	}
	return h
}

// Reading is what the rules read of the fields that name messages and
// people, for tests that hold every step to one reading of an email.
type Reading struct {
	From, ReplyTo, MessageID string
	InReplyTo, References    []string
}

// ReadingOf is the Reading of the email mm as the rules see it.
func ReadingOf(mm *mailmsg.Message) Reading {
	h := oneReading(mm) // the header alone: no part is decoded
	r := Reading{From: addrSpec(h.get("from")), ReplyTo: addrSpec(h.get("reply-to")), MessageID: cleanID(h.get("message-id"))}
	for _, id := range strings.Fields(h.get("in-reply-to")) {
		r.InReplyTo = append(r.InReplyTo, cleanID(id))
	}
	for _, id := range strings.Fields(h.get("references")) {
		r.References = append(r.References, cleanID(id))
	}
	return r
}

// What the classifier decodes of each part. Everything it needs sits at
// the start of a part: the words of an auto-reply or a bounce, the fields
// of a delivery-status report, the header of an attached message. Reading
// more would only make a large or hostile message cost more.
const (
	// maxTextScan is how much of a text part is transfer-decoded.
	maxTextScan = 64 << 10
	// maxReportScan is how much of a report part (delivery-status,
	// feedback-report) is read.
	maxReportScan = 64 << 10
)

// Parse reads raw with the Guard's caps (the one parse, mailmsg.Parse),
// for ClassifyMessage.
func (g *Guard) Parse(raw []byte) *mailmsg.Message {
	return mailmsg.Parse(bareCR(raw), g.Limits())
}

// Limits are the caps of the Guard's options as mailmsg's limits.
func (g *Guard) Limits() mailmsg.Limits {
	return mailmsg.Limits{MaxHeaderBytes: g.opts.MaxHeaderBytes, MaxParts: g.opts.MaxParts, MaxDepth: g.opts.MaxDepth}
}

// ClassifyMessage is Classify on an email already parsed (the pipeline
// parses each email once and hands the same view to every step).
func (g *Guard) ClassifyMessage(env Envelope, mm *mailmsg.Message) (v Verdict) {
	defer func() {
		if r := recover(); r != nil {
			v = Verdict{Class: Human, Reasons: []string{mailmsg.Printable(fmt.Sprintf("note: classifier failed (%v): treated as human", r))}}
		}
	}()
	return g.classifyMessage(env, newMessage(mm))
}

// parse reads raw within the caps of the options, in time linear in the
// size of raw (mailmsg.Parse).
func (g *Guard) parse(raw []byte) *message {
	return newMessage(g.Parse(raw))
}

// newMessage makes the rules' view of a parsed email. Only the parts the
// rules read are decoded, each up to its cap; other parts (attachments,
// images) keep no content: no rule reads them.
func newMessage(mm *mailmsg.Message) *message {
	m := &message{header: oneReading(mm), mediaType: "text/plain", notes: mm.Notes}
	if mm.Root != nil {
		m.mediaType, m.params = mm.Root.MediaType, mm.Root.Params
	}
	if mm.Cut != "" {
		m.notes = append(m.notes[:len(m.notes):len(m.notes)],
			fmt.Sprintf("MIME structure not parsed (%v): classified from the headers and the first parts", mm.Cut))
	}
	m.parts = make([]part, len(mm.Leaves))
	for i, l := range mm.Leaves {
		p := part{header: fromFields(l.Header), mediaType: l.MediaType, params: l.Params, depth: l.Depth}
		h := l.Header
		switch {
		case strings.HasPrefix(p.mediaType, "text/") && p.mediaType != "text/rfc822-headers":
			p.content = mailmsg.DecodeTransfer(h, l.Body, maxTextScan)
			if cs := strings.ToLower(p.params["charset"]); cs != "" {
				p.content = []byte(toUTF8(cs, p.content))
			}
		case isReportPart(p.mediaType):
			p.content = mailmsg.DecodeTransfer(h, l.Body, maxReportScan)
		case isAttachedMessage(p.mediaType):
			// Only its header is ever read; readHeader caps it.
			p.content = mailmsg.DecodeTransfer(h, l.Body, DefaultMaxHeaderBytes)
		}
		m.parts[i] = p
	}
	return m
}

func isReportPart(t string) bool {
	switch t {
	case "message/delivery-status", "message/global-delivery-status", "message/feedback-report",
		"message/disposition-notification", "message/global-disposition-notification":
		return true
	}
	return false
}

func isAttachedMessage(t string) bool {
	switch t {
	case "message/rfc822", "text/rfc822-headers", "message/global", "message/global-headers":
		return true
	}
	return false
}

// The readers the rules use, from mailmsg.

func readHeader(raw []byte, max int) (header, []byte, []string) {
	h, body, notes := mailmsg.ReadHeader(raw, max)
	return fromFields(h), body, notes
}

func cutLine(b []byte) (line, rest []byte)   { return mailmsg.CutLine(b) }
func addrSpec(v string) string               { return mailmsg.AddrSpec(v) }
func displayName(v string) string            { return mailmsg.DisplayName(v) }
func localPart(addr string) string           { return mailmsg.LocalPart(addr) }
func toUTF8(charset string, b []byte) string { return mailmsg.ToUTF8(charset, b) }

// maxWordsInput caps how much of an unstructured field (Subject) is
// decoded: a subject that decides anything starts with its decisive words,
// and a 200 KiB subject must cost no more than a short one.
const maxWordsInput = 4 << 10

// decodeWords decodes the RFC 2047 encoded words of at most maxWordsInput
// bytes of an unstructured field (mailmsg.DecodeWords).
func decodeWords(s string) string {
	if len(s) > maxWordsInput {
		s = s[:maxWordsInput]
	}
	return mailmsg.DecodeWords(s)
}
