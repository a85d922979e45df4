package mailmsg

import (
	"bytes"
	"fmt"
	"mime"
	"strings"
)

// Field is one header field, unfolded: continuation lines are joined
// with single spaces and the value is trimmed.
type Field struct {
	// Name is the field name lower-cased, without the white space some
	// mailers put before the colon: "From :" and "FROM:" are both "from",
	// so a second From in any spelling is seen as a second From.
	Name string
	// Raw is the value as written (unfolded), encoded words included.
	// Address and Message-ID fields are parsed from Raw.
	Raw string
	// Value is Raw with its RFC 2047 encoded words decoded (DecodeWords),
	// for display and for unstructured fields such as Subject.
	Value string
	// Obsolete is set when the name was followed by white space before
	// the colon (RFC 5322 section 4.5, obs-optional): some parsers read
	// such a field and others ignore it.
	Obsolete bool
}

// Header is the ordered list of fields of a message or a MIME part.
// Mail in the wild repeats fields (Received), misspells their case and
// breaks folding, so this is a plain slice instead of a map.
type Header []Field

// Get returns the raw value of the first field named name (lower-case),
// or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if f.Name == name {
			return f.Raw
		}
	}
	return ""
}

// Decoded returns the decoded value of the first field named name, or "".
func (h Header) Decoded(name string) string {
	for _, f := range h {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// Values returns the raw values of every field named name, in order.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if f.Name == name {
			out = append(out, f.Raw)
		}
	}
	return out
}

// Count is the number of fields named name.
func (h Header) Count(name string) int {
	n := 0
	for _, f := range h {
		if f.Name == name {
			n++
		}
	}
	return n
}

// ReadHeader reads the header block at the start of raw, tolerantly and
// within max bytes. It never fails: it returns the fields it could read,
// the body that follows, and notes on what was wrong.
//
// RFC 5322 §2.2 says the header ends at the first empty line. Real mail
// sometimes has no empty line, or junk in the middle of the header; like
// Postfix's cleanup(8), a line that is neither a field nor a continuation
// ends the header and starts the body.
func ReadHeader(raw []byte, max int) (h Header, body []byte, notes []string) {
	// The fields' names and values are pieces of one string, the header
	// block's copy, not two or three strings of their own each (the
	// parse of every accepted email, issue 27).
	end, fields := headerExtent(raw, max)
	text := string(raw[:end])
	if fields > 0 {
		h = make(Header, 0, fields)
	}
	// The value of the field being read is built in cont, not by string
	// concatenation: a field folded over 100 000 lines must cost linear
	// time, not quadratic (found by a test with a hostile header).
	var cont strings.Builder
	flush := func() {
		if len(h) > 0 && cont.Len() > 0 {
			h[len(h)-1].Raw = strings.TrimSpace(h[len(h)-1].Raw + " " + cont.String())
		}
		cont.Reset()
	}
	defer func() {
		flush()
		if len(h) == 0 {
			h = nil
		} else if cap(h) > 2*len(h)+16 {
			// headerExtent counts every line with a colon as a field
			// at most; a header of lines like ":" ends long before,
			// and the list kept for the whole parse is cut to size.
			h = append(Header(nil), h...)
		}
		for i := range h {
			h[i].Value = h[i].Raw
			if strings.Contains(h[i].Raw, "=?") {
				h[i].Value = DecodeWords(h[i].Raw)
			}
		}
	}()
	rest := raw
	consumed := 0
	first := true
	for len(rest) > 0 {
		line, next := CutLine(rest)
		if consumed+len(line) > max {
			notes = append(notes, fmt.Sprintf("header larger than %d bytes: read the first %d only", max, max))
			return h, nil, notes
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			return h, next, notes
		}
		var ls string
		if consumed+len(trimmed) <= end {
			ls = text[consumed : consumed+len(trimmed)]
		} else {
			ls = string(trimmed)
		}
		name, value, obsolete, isField := splitField(ls)
		switch {
		case trimmed[0] == ' ' || trimmed[0] == '\t':
			if c := bytes.TrimSpace(trimmed); len(h) > 0 && len(c) > 0 {
				if cont.Len() > 0 {
					cont.WriteByte(' ')
				}
				cont.Write(c)
			}
		case first && !isField && bytes.HasPrefix(trimmed, []byte("From ")):
			// mbox separator line, as in files saved from a mail client.
			// "From : x" is a field (obsolete syntax), not a separator.
		case isField:
			flush()
			h = append(h, Field{Name: name, Raw: value, Obsolete: obsolete})
		case looksLikeField(trimmed):
			// "Name\x00junk: value": a damaged field, not the start
			// of the body. Skip it and keep reading the header.
			notes = appendOnce(notes, "malformed header field skipped")
		default:
			notes = append(notes, "header not ended by an empty line")
			return h, rest, notes
		}
		first = false
		consumed += len(line)
		rest = next
	}
	if len(raw) > 0 {
		notes = append(notes, "message has no body (no empty line after the header)")
	}
	return h, nil, notes
}

// headerExtent is how many bytes at the start of raw ReadHeader reads at
// most as header lines (up to the first empty line, a line that can be
// neither a field nor a continuation, or max bytes), and how many of
// them start a field at most. A line past it is still read, as a string
// of its own.
func headerExtent(raw []byte, max int) (end, fields int) {
	for end < len(raw) {
		line, _ := CutLine(raw[end:])
		if end+len(line) > max {
			break
		}
		t := bytes.TrimRight(line, "\r\n")
		if len(t) == 0 {
			break
		}
		if t[0] != ' ' && t[0] != '\t' {
			if bytes.IndexByte(t, ':') < 0 && (end > 0 || !bytes.HasPrefix(t, []byte("From "))) {
				break
			}
			fields++
		}
		end += len(line)
	}
	return end, fields
}

// CutLine returns the first line of b including its newline, and the rest.
func CutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// splitField splits "Name: value". A field name is printable US-ASCII
// without colon or space (RFC 5322 §2.2); the obsolete syntax with white
// space before the colon (RFC 5322 §4.5) is accepted and flagged. The
// name and the value are pieces of line, but for a name with capitals
// (lowerName).
func splitField(line string) (name, value string, obsolete, ok bool) {
	i := strings.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false, false
	}
	n := strings.TrimRight(line[:i], " \t")
	if len(n) == 0 {
		return "", "", false, false
	}
	for j := 0; j < len(n); j++ {
		if c := n[j]; c < 33 || c > 126 {
			return "", "", false, false
		}
	}
	return lowerName(n), strings.TrimSpace(line[i+1:]), len(n) < i, true
}

// commonNames are field names lowerName returns without an allocation
// whatever their case ("From", "Message-ID").
var commonNames = []string{
	"from", "to", "cc", "date", "subject", "message-id", "received",
	"reply-to", "in-reply-to", "references", "sender", "return-path",
	"mime-version", "content-type", "content-transfer-encoding",
	"content-disposition", "dkim-signature", "authentication-results",
	"auto-submitted", "precedence", "list-id", "list-unsubscribe",
	"x-mailer", "user-agent", "delivered-to", "thread-index", "thread-topic",
}

// lowerName is the field name n lower-cased (printable US-ASCII).
func lowerName(n string) string {
	for i := 0; i < len(n); i++ {
		if c := n[i]; 'A' <= c && c <= 'Z' {
			for _, k := range commonNames {
				if len(k) == len(n) && strings.EqualFold(k, n) {
					return k
				}
			}
			return strings.ToLower(n)
		}
	}
	return n
}

// looksLikeField tells a damaged field ("X-Bad\x00Name: v") from a body
// line: a colon early in the line and no blank before it.
func looksLikeField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	return i > 0 && i <= 76 && !bytes.ContainsAny(line[:i], " \t")
}

func appendOnce(notes []string, n string) []string {
	for _, x := range notes {
		if x == n {
			return notes
		}
	}
	return append(notes, n)
}

// MediaType parses a Content-Type value. On a syntax error it keeps the
// type/subtype before the first ";" and whatever boundary it can find, since
// a bounce with a sloppy Content-Type is still a bounce.
func MediaType(v string) (string, map[string]string) {
	if v == "" {
		return "text/plain", nil
	}
	t, params, err := mime.ParseMediaType(v)
	if err == nil {
		return t, params
	}
	t = strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0]))
	params = map[string]string{}
	lv := strings.ToLower(v)
	for _, key := range []string{"boundary", "report-type"} {
		i := strings.Index(lv, key+"=")
		if i < 0 {
			continue
		}
		val := v[i+len(key)+1:]
		if strings.HasPrefix(val, `"`) {
			if j := strings.IndexByte(val[1:], '"'); j >= 0 {
				val = val[1 : j+1]
			} else {
				val = val[1:]
			}
		} else if j := strings.IndexAny(val, "; \t"); j >= 0 {
			val = val[:j]
		}
		params[key] = val
	}
	return t, params
}
