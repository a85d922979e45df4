package mailmsg

import (
	"fmt"
	"mime"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/charset"
)

// wordDecoder decodes RFC 2047 encoded words inside address fields (the
// display names) in every charset go-message's charset package knows
// (iso-8859-*, windows-125x, iso-2022-jp, shift_jis, gb18030...).
var wordDecoder = &mime.WordDecoder{CharsetReader: charset.Reader}

// AddrSpec extracts the bare address of an address field such as From or
// Return-Path, tolerantly: net/mail first, then whatever is inside <>,
// then the first word with an @. It returns "" when there is none.
func AddrSpec(v string) string {
	v = strings.TrimSpace(v)
	if v == "" {
		return ""
	}
	if _, addr, ok := simpleAddress(v); ok {
		return strings.ToLower(addr)
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

// LocalPart returns the part of an address before the last @.
func LocalPart(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return addr[:i]
	}
	return addr
}

// DisplayName returns the display name of an address field, or "".
func DisplayName(v string) string {
	v = strings.TrimSpace(v)
	if len(v) > 1000 {
		v = v[:1000]
	}
	if name, _, ok := simpleAddress(v); ok {
		return name
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

// maxAddressField caps the bytes of one address field given to net/mail.
const maxAddressField = 64 << 10

// parseList reads an address list (RFC 5322 section 3.4), addresses
// lower-cased, display names decoded.
func parseList(v string) ([]Address, error) {
	if len(v) > maxAddressField {
		return nil, fmt.Errorf("address field longer than %d bytes", maxAddressField)
	}
	if name, addr, ok := simpleAddress(v); ok {
		return []Address{{Name: name, Addr: strings.ToLower(addr)}}, nil
	}
	p := mail.AddressParser{WordDecoder: wordDecoder}
	as, err := p.ParseList(v)
	if err != nil {
		return nil, err
	}
	out := make([]Address, len(as))
	for i, a := range as {
		out[i] = Address{Name: a.Name, Addr: strings.ToLower(a.Address)}
	}
	return out, nil
}

// addresses reads the address list of the first field named name, at
// most max addresses; nil when it does not parse.
func addresses(h Header, name string, max int) []Address {
	v := h.Get(name)
	if v == "" {
		return nil
	}
	as, _ := parseList(v)
	if len(as) > max {
		as = as[:max]
	}
	return as
}

// parseDate reads a Date field (RFC 5322 section 3.3, obsolete forms
// included, as net/mail does).
func parseDate(v string) (time.Time, error) {
	if len(v) > 200 {
		return time.Time{}, fmt.Errorf("date longer than 200 bytes")
	}
	if t, ok := parseDateFast(v); ok {
		return t, nil
	}
	return mail.ParseDate(v)
}

// rfc5322Date is the first layout of net/mail.ParseDate's list with a
// day of the week: the form nearly every mail program writes ("Mon, 7 Dec
// 2026 11:15:22 +0000").
const rfc5322Date = "Mon, 2 Jan 2006 15:04:05 -0700"

// parseDateFast is net/mail.ParseDate for a Date that starts with a
// letter, holds no line break, and ends with its numeric zone, the only "+"
// or "-" before it, and then at most one comment of letters, digits and
// spaces ("+0000 (UTC)", as Postfix writes it): ParseDate then parses v up
// to the zone as it is, skips the comment, its layouts without a day of the
// week fail on the letter (24 failed parses, each allocating its error),
// and the first with one is rfc5322Date. So when that layout reads v the
// answer is ParseDate's; otherwise ok is false.
func parseDateFast(v string) (t time.Time, ok bool) {
	if i := strings.IndexByte(v, '('); i >= 0 {
		if !simpleComment(v[i:]) {
			return time.Time{}, false
		}
		v = strings.TrimRight(v[:i], " \t")
	}
	n := len(v)
	if n < 6 || !('A' <= v[0] && v[0] <= 'Z' || 'a' <= v[0] && v[0] <= 'z') || strings.ContainsAny(v, "\r\n") ||
		strings.IndexAny(v, "+-") != n-5 {
		return time.Time{}, false
	}
	for i := n - 4; i < n; i++ {
		if v[i] < '0' || v[i] > '9' {
			return time.Time{}, false
		}
	}
	t, err := time.Parse(rfc5322Date, v)
	return t, err == nil
}

// simpleComment tells whether c is one comment of letters, digits and
// spaces, then nothing but spaces: "(UTC)", "(Coordinated Universal Time)".
func simpleComment(c string) bool {
	c = strings.TrimRight(c, " \t")
	if len(c) < 2 || c[0] != '(' || c[len(c)-1] != ')' {
		return false
	}
	for i := 1; i < len(c)-1; i++ {
		b := c[i]
		if !('A' <= b && b <= 'Z' || 'a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == ' ') {
			return false
		}
	}
	return true
}

// CanonicalMessageID is the form IDs are compared and indexed in: white
// space and one pair of angle brackets removed, nothing else changed (the
// local part is case-sensitive, RFC 5322 section 3.6.4).
func CanonicalMessageID(id string) string {
	id = strings.TrimSpace(id)
	if len(id) >= 2 && id[0] == '<' && id[len(id)-1] == '>' {
		id = strings.TrimSpace(id[1 : len(id)-1])
	}
	return id
}

// MessageID reads a Message-ID field: the text inside its first pair of
// angle brackets (a comment or junk around it dropped), else the value
// without white space and angle brackets at its ends.
func MessageID(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			v = v[i+1 : i+j]
		}
	}
	return strings.Trim(v, "<> \t")
}

// MaxMessageIDs bounds how many IDs MessageIDs returns (the newest).
const MaxMessageIDs = 64

// MessageIDs reads the IDs of an In-Reply-To or References value, oldest
// first, canonical, at most MaxMessageIDs of them (the newest ones). It
// is lenient where clients are sloppy: IDs without brackets, comments,
// commas; anything without an '@' is dropped.
func MessageIDs(v string) []string {
	var ids []string
	rest := v
	for {
		open := strings.IndexByte(rest, '<')
		if open < 0 {
			break
		}
		end := strings.IndexByte(rest[open:], '>')
		if end < 0 {
			break
		}
		if id := CanonicalMessageID(rest[open+1 : open+end]); strings.Contains(id, "@") && !strings.ContainsAny(id, " \t\r\n<") {
			ids = append(ids, id)
		}
		rest = rest[open+end+1:]
	}
	if len(ids) == 0 && !strings.Contains(v, "<") {
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\n' || r == ',' }) {
			if f = strings.Trim(f, "<>"); strings.Contains(f, "@") {
				ids = append(ids, f)
			}
		}
	}
	if len(ids) > MaxMessageIDs {
		ids = ids[len(ids)-MaxMessageIDs:]
	}
	return ids
}
