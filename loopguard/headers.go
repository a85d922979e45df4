package loopguard

import (
	"bytes"
	"fmt"
	"github.com/emersion/go-message/charset"
	"mime"
	"net/mail"
	"strings"
)

// field is one header field, unfolded. name is lower-cased for lookup;
// the classifier never needs the original spelling.
type field struct {
	name  string
	value string
}

// header is the ordered list of fields of a message or a MIME part.
// Mail in the wild repeats fields (Received), misspells their case and
// breaks folding, so this is a plain slice instead of a map.
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

// readHeader reads the header block at the start of raw, tolerantly and
// within max bytes. It never fails: it returns the fields it could read,
// the body that follows, and notes on what was wrong.
//
// RFC 5322 §2.2 says the header ends at the first empty line. Real mail
// sometimes has no empty line, or junk in the middle of the header; like
// Postfix's cleanup(8), a line that is neither a field nor a continuation
// ends the header and starts the body.
func readHeader(raw []byte, max int) (h header, body []byte, notes []string) {
	// The value of the field being read is built in cont, not by string
	// concatenation: a field folded over 100 000 lines must cost linear
	// time, not quadratic (found by a test with a hostile header).
	var cont strings.Builder
	flush := func() {
		if len(h) > 0 && cont.Len() > 0 {
			h[len(h)-1].value = strings.TrimSpace(h[len(h)-1].value + " " + cont.String())
		}
		cont.Reset()
	}
	defer flush()
	rest := raw
	consumed := 0
	first := true
	for len(rest) > 0 {
		line, next := cutLine(rest)
		if consumed+len(line) > max {
			notes = append(notes, fmt.Sprintf("header larger than %d bytes: read the first %d only", max, max))
			return h, nil, notes
		}
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			return h, next, notes
		}
		switch {
		case trimmed[0] == ' ' || trimmed[0] == '\t':
			if c := bytes.TrimSpace(trimmed); len(h) > 0 && len(c) > 0 {
				if cont.Len() > 0 {
					cont.WriteByte(' ')
				}
				cont.Write(c)
			}
		case first && bytes.HasPrefix(trimmed, []byte("From ")):
			// mbox separator line, as in files saved from a mail client.
		default:
			name, value, ok := splitField(trimmed)
			if ok {
				flush()
				h = append(h, field{name: name, value: value})
				break
			}
			if looksLikeField(trimmed) {
				// "Name\x00junk: value": a damaged field, not the start
				// of the body. Skip it and keep reading the header.
				notes = appendOnce(notes, "malformed header field skipped")
				break
			}
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

// cutLine returns the first line of b including its newline, and the rest.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// splitField splits "Name: value". A field name is printable US-ASCII
// without colon or space (RFC 5322 §2.2); some broken mailers put a space
// before the colon, which is accepted.
func splitField(line []byte) (name, value string, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return "", "", false
	}
	n := bytes.TrimRight(line[:i], " \t")
	if len(n) == 0 {
		return "", "", false
	}
	for _, c := range n {
		if c < 33 || c > 126 {
			return "", "", false
		}
	}
	return strings.ToLower(string(n)), strings.TrimSpace(string(line[i+1:])), true
}

// looksLikeField tells a damaged field ("X-Bad\x00Name: v") from a body
// line: a colon early in the line and no blank before it.
func looksLikeField(line []byte) bool {
	i := bytes.IndexByte(line, ':')
	return i > 0 && i <= 76 && bytes.IndexAny(line[:i], " \t") < 0
}

func appendOnce(notes []string, n string) []string {
	for _, x := range notes {
		if x == n {
			return notes
		}
	}
	return append(notes, n)
}

// wordDecoder decodes RFC 2047 encoded words in any charset go-message's
// charset package knows (iso-8859-*, windows-125x, iso-2022-jp,
// shift_jis, gb2312, big5, euc-kr, koi8-r...), the same as the other
// steps that read addresses.
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// addrSpec extracts the bare address of an address field such as From or
// Return-Path, tolerantly: net/mail first, then whatever is inside <>,
// then the first word with an @. It returns "" when there is none.
func addrSpec(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if a, err := p.Parse(v); err == nil {
		return strings.ToLower(a.Address)
	}
	if i := strings.LastIndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j >= 0 {
			return strings.ToLower(strings.TrimSpace(v[i+1 : i+j]))
		}
	}
	for _, w := range strings.Fields(v) {
		if strings.Contains(w, "@") {
			return strings.ToLower(strings.Trim(w, "<>\"',;()"))
		}
	}
	return ""
}

// localPart returns the part of an address before the last @.
func localPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// mediaType parses a Content-Type value. On a syntax error it keeps the
// type/subtype before the first ";" and whatever boundary it can find, since
// a bounce with a sloppy Content-Type is still a bounce.
func mediaType(v string) (string, map[string]string) {
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

// displayName returns the display name of an address field, or "".
func displayName(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 1000 {
		v = v[:1000]
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	if a, err := p.Parse(v); err == nil {
		return a.Name
	}
	if i := strings.IndexByte(v, '<'); i > 0 {
		return strings.Trim(strings.TrimSpace(v[:i]), `"`)
	}
	return ""
}
