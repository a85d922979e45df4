// Package mailmsg is the one parse of an inbound email that every step of
// deskmail reads: the header fields in order (raw and decoded), the one
// author or none, the threading fields, and a bounded MIME tree with the
// decoded text of its text parts and the list of its attachments.
//
// Parse never fails and never panics, and its time is linear in the size
// of its input: the MIME structure comes from a bounded scanner (mime.go)
// that stops at Limits.MaxParts and Limits.MaxDepth and keeps what it read
// so far; every value it decodes is capped. What went wrong while reading
// is said in Message.Notes; a structure cut at a cap is Message.Cut.
//
// Two steps reading one email with two parsers is how an email could be
// checked as one author and threaded as another (a second From spelled
// "From :"). So the author is decided here, once, strictly: exactly one
// From field, in any spelling, with exactly one mailbox; anything else is
// no author at all, with the reason (Message.NoAuthor).
package mailmsg

import (
	"cmp"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits bound what Parse reads. Zero values take the defaults.
type Limits struct {
	// MaxHeaderBytes caps the top-level header and each part's header
	// (DefaultMaxHeaderBytes).
	MaxHeaderBytes int
	// MaxDepth caps multipart nesting: the top level is depth 0
	// (DefaultMaxDepth).
	MaxDepth int
	// MaxParts caps the number of MIME parts, multiparts included
	// (DefaultMaxParts).
	MaxParts int
	// MaxTextBytes caps the decoded text of each text/plain and
	// text/html part (DefaultMaxTextBytes).
	MaxTextBytes int
	// MaxAddresses caps the addresses read from each of To, Cc and
	// Reply-To (DefaultMaxAddresses).
	MaxAddresses int
	// MaxIDs caps the Message-IDs read from In-Reply-To and References
	// together, the newest kept (DefaultMaxIDs).
	MaxIDs int
	// MaxAttachments caps the attachments listed (DefaultMaxAttachments).
	MaxAttachments int
}

// The default limits. Postfix (mime_nesting_limit) and mox cap MIME
// structure with small fixed numbers the same way; mail written by people
// nests three or four levels and has a handful of parts.
const (
	DefaultMaxHeaderBytes = 256 << 10
	DefaultMaxDepth       = 10
	DefaultMaxParts       = 200
	DefaultMaxTextBytes   = 2 << 20
	DefaultMaxAddresses   = 100
	DefaultMaxIDs         = 100
	DefaultMaxAttachments = 100
)

func (l Limits) withDefaults() Limits {
	// max(v, 0): a negative limit takes the default too.
	l.MaxHeaderBytes = cmp.Or(max(l.MaxHeaderBytes, 0), DefaultMaxHeaderBytes)
	l.MaxDepth = cmp.Or(max(l.MaxDepth, 0), DefaultMaxDepth)
	l.MaxParts = cmp.Or(max(l.MaxParts, 0), DefaultMaxParts)
	l.MaxTextBytes = cmp.Or(max(l.MaxTextBytes, 0), DefaultMaxTextBytes)
	l.MaxAddresses = cmp.Or(max(l.MaxAddresses, 0), DefaultMaxAddresses)
	l.MaxIDs = cmp.Or(max(l.MaxIDs, 0), DefaultMaxIDs)
	l.MaxAttachments = cmp.Or(max(l.MaxAttachments, 0), DefaultMaxAttachments)
	return l
}

// Address is one mailbox: its address lower-cased, and its decoded
// display name.
type Address struct {
	Name string
	Addr string
}

// Attachment is a leaf that is an attachment: Content-Disposition
// attachment, or a file name on a part that is not text.
type Attachment struct {
	Name        string // decoded file name, at most 255 bytes of valid UTF-8
	ContentType string
	Size        int64 // decoded size in bytes
	Part        int   // the leaf's position among all leaves (Part.Leaf)
}

// Message is the parsed view of one email.
type Message struct {
	// Header is the top-level header, fields in order.
	Header Header

	// Author is the one author of the email: exactly one From field (in
	// any spelling) holding exactly one mailbox. nil otherwise, and then
	// NoAuthor says why.
	Author   *Address
	NoAuthor string

	Sender     *Address  // the one mailbox of the one Sender field, or nil
	ReplyTo    []Address // at most MaxAddresses
	To, Cc     []Address // at most MaxAddresses each
	MessageID  string    // inside its angle brackets, without white space
	InReplyTo  []string  // canonical IDs, oldest first
	References []string  // canonical IDs, oldest first, the newest kept
	Subject    string    // decoded
	Date       time.Time // zero when missing or unreadable

	// Root is the top of the MIME tree (nil only when Parse failed
	// outright); Leaves are its leaves, depth first.
	Root   *Part
	Leaves []*Part
	// Attachments lists the attachment leaves, at most MaxAttachments.
	Attachments []Attachment

	// Cut says why the MIME tree was not read to its end (too many parts,
	// too deep), or "". The parts read before the cap are kept.
	Cut string
	// Notes says what was wrong while reading, for the log.
	Notes []string
}

// Reasons for Message.NoAuthor. The ambiguous ones start with
// AmbiguousAuthor.
const (
	NoFrom          = "no From field"
	AmbiguousAuthor = "ambiguous author"
)

// Ambiguous tells whether the email names its author in a way parsers
// may read differently (two From fields, several mailboxes, a From that
// does not parse): such an email is never attributed to anyone.
func (m *Message) Ambiguous() bool {
	return strings.HasPrefix(m.NoAuthor, AmbiguousAuthor)
}

// Parse reads raw within lim. It never fails, never panics, and takes
// time linear in len(raw).
func Parse(raw []byte, lim Limits) (m *Message) {
	lim = lim.withDefaults()
	defer func() {
		// Parse is fuzzed, so this should never run. If it does, the
		// email is kept with no author and no text, and says so.
		if r := recover(); r != nil {
			m = &Message{NoAuthor: AmbiguousAuthor + ": the message could not be read",
				Notes: []string{Printable(fmt.Sprintf("parser failed (%v)", r))}}
		}
	}()
	m = &Message{}
	h, body, notes := ReadHeader(raw, lim.MaxHeaderBytes)
	m.Header, m.Notes = h, notes
	m.readFields(lim)

	sc := &scanner{maxParts: lim.MaxParts, maxDepth: lim.MaxDepth, maxHeader: lim.MaxHeaderBytes}
	root, err := sc.walk(h, body, 0)
	m.Root, m.Leaves = root, sc.leaves
	m.Notes = append(m.Notes, sc.notes...)
	if err != nil {
		m.Cut = err.Error()
		m.Notes = append(m.Notes, fmt.Sprintf("MIME structure not read to its end (%v): the first parts are kept", err))
	}
	m.readLeaves(lim)
	return m
}

// ParseHeader reads only the header block of raw (the body, if any, is
// ignored): the fields, the author and the threading fields. It is what
// the receiver reads before the email is stored.
func ParseHeader(raw []byte, lim Limits) *Message {
	lim = lim.withDefaults()
	m := &Message{}
	m.Header, _, m.Notes = ReadHeader(raw, lim.MaxHeaderBytes)
	m.readFields(lim)
	return m
}

// readFields fills the author and the other fields from the header.
func (m *Message) readFields(lim Limits) {
	h := m.Header
	m.Author, m.NoAuthor = author(h)
	if n := h.Count("sender"); n == 1 {
		if as, err := parseList(h.Get("sender")); err == nil && len(as) == 1 {
			m.Sender = &as[0]
		} else {
			m.Notes = append(m.Notes, "Sender does not name one mailbox: ignored")
		}
	} else if n > 1 {
		m.Notes = append(m.Notes, fmt.Sprintf("%d Sender fields: ignored", n))
	}
	if n := h.Count("reply-to"); n > 1 {
		m.Notes = append(m.Notes, fmt.Sprintf("%d Reply-To fields: ignored", n))
	} else {
		m.ReplyTo = addresses(h, "reply-to", lim.MaxAddresses)
	}
	m.To = addresses(h, "to", lim.MaxAddresses)
	m.Cc = addresses(h, "cc", lim.MaxAddresses)
	if n := h.Count("message-id"); n > 1 {
		m.Notes = append(m.Notes, fmt.Sprintf("%d Message-ID fields: the first is used", n))
	}
	m.MessageID = MessageID(h.Get("message-id"))
	// Like Message-ID, In-Reply-To and References are read from their
	// first field, as every reader of a field by name does.
	for _, name := range []string{"in-reply-to", "references"} {
		if n := h.Count(name); n > 1 {
			m.Notes = append(m.Notes, fmt.Sprintf("%d %s fields: the first is used", n, name))
		}
	}
	m.InReplyTo = capNewest(MessageIDs(h.Get("in-reply-to")), lim.MaxIDs)
	m.References = capNewest(MessageIDs(h.Get("references")), lim.MaxIDs-len(m.InReplyTo))
	m.Subject = h.Decoded("subject")
	if d := h.Get("date"); d != "" {
		if t, err := parseDate(d); err == nil {
			m.Date = t
		}
	}
}

// author applies the rule of the package comment: one From field, one
// mailbox, or no author.
func author(h Header) (*Address, string) {
	froms := h.Values("from")
	switch {
	case len(froms) == 0:
		return nil, NoFrom
	case len(froms) > 1:
		obsolete := 0
		for _, f := range h {
			if f.Name == "from" && f.Obsolete {
				obsolete++
			}
		}
		why := fmt.Sprintf("%s: %d From fields", AmbiguousAuthor, len(froms))
		if obsolete > 0 {
			why += fmt.Sprintf(" (%d written \"From :\", which some parsers ignore)", obsolete)
		}
		return nil, why
	}
	as, err := parseList(froms[0])
	switch {
	case err != nil:
		return nil, AmbiguousAuthor + ": From does not parse as an address"
	case len(as) != 1:
		return nil, fmt.Sprintf("%s: From names %d mailboxes", AmbiguousAuthor, len(as))
	}
	return &as[0], ""
}

// capNewest keeps the newest n IDs (References lists oldest first).
func capNewest(ids []string, n int) []string {
	if n < 0 {
		n = 0
	}
	if len(ids) > n {
		return ids[len(ids)-n:]
	}
	return ids
}

// readLeaves decodes the text leaves and lists the attachments.
func (m *Message) readLeaves(lim Limits) {
	for _, p := range m.Leaves {
		p.Disposition, p.FileName = disposition(p)
		isText := p.MediaType == "text/plain" || p.MediaType == "text/html"
		switch {
		case p.Disposition == "attachment" || (p.FileName != "" && !strings.HasPrefix(p.MediaType, "text/")):
			if len(m.Attachments) < lim.MaxAttachments {
				name := p.FileName
				if len(name) > 255 {
					name = strings.ToValidUTF8(name[:255], "")
				}
				m.Attachments = append(m.Attachments, Attachment{Name: name, ContentType: p.MediaType,
					Size: decodedSize(p.Header, p.Body), Part: p.Leaf})
			}
		case isText:
			// Quoted-printable takes up to three bytes per byte of text.
			b := DecodeTransfer(p.Header, p.Body, 3*lim.MaxTextBytes+4)
			p.Text = ToUTF8(p.Params["charset"], b)
			if len(p.Text) > lim.MaxTextBytes {
				p.Text, p.TextCut = strings.ToValidUTF8(p.Text[:lim.MaxTextBytes], ""), true
			}
		}
	}
}

// Printable makes a note safe for a terminal, a log line and JSON: at
// most 300 bytes, control characters and invalid UTF-8 as "?" (the errors
// of a MIME parser quote the hostile bytes that caused them).
func Printable(s string) string {
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
