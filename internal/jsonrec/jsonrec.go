// Package jsonrec writes and reads store records in exactly the JSON that
// encoding/json writes for them, without its reflection: the pipeline
// writes a journal entry, a person, a conversation and a message per
// email and reads the journal entry back twice, and encoding/json was
// about 7% of the daemon's CPU per email (docs/PERFORMANCE.md, branch
// pipecpu3). The records stay JSON (a node of an earlier version reads
// them during a rolling upgrade, the deskmail_log view reads the
// journal's); a record's own encoder calls the appenders here field by
// field, in its struct's order, and its decoder walks a Cursor, handing
// the whole record to encoding/json whenever the Cursor meets what it
// does not read.
package jsonrec

import (
	"bytes"
	"encoding"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

const hex = "0123456789abcdef"

// htmlSafe is encoding/json's htmlSafeSet: the ASCII bytes a string
// holds as they are (not the control characters, " \\ < > &); false
// from 0x80 on, where String reads a character.
var htmlSafe = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// plainByte holds the bytes a string read by the Cursor takes as they
// are: ASCII from the space on, but the quote and the backslash.
var plainByte = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// Eight bytes a step: appendString skips a word of eight bytes when none
// of them needs a look (the test is exact: a word passes only when every
// byte would pass htmlSafe), then goes on a byte at a time as before.
// (The Cursor's strings are mostly short, and its scan runs past their
// end: a word test there cost more than it saved.)
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// load8 is the eight bytes of s from i on, the first lowest.
func load8[T []byte | string](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// zeroIn8: a byte of w is zero.
func zeroIn8(w uint64) bool { return (w-ones)&^w&highs != 0 }

// escapeIn8: a byte of w is not htmlSafe (0x80 and up, below 0x20, " \ < > &).
// Past the high bits every byte is below 0x80: w-0x20*ones then sets the
// high bit of the lowest byte below 0x20 (and maybe of bytes above it,
// through the borrow: the word goes to the byte loop either way) and of
// no byte when none is below 0x20. < and > are the bytes that OR 0x02
// makes >, " and & those that OR 0x04 makes &.
func escapeIn8(w uint64) bool {
	if w&highs != 0 || (w-0x20*ones)&^w&highs != 0 {
		return true
	}
	return zeroIn8(w^('\\'*ones)) || zeroIn8((w|0x02*ones)^('>'*ones)) || zeroIn8((w|0x04*ones)^('&'*ones))
}

// String appends s as json.Marshal writes a string: the HTML characters
// < > & escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
// (encoding/json's appendString with escapeHTML set.)
func String(dst []byte, s string) []byte { return appendString(dst, s) }

// Bytes appends s as String does (an enum's MarshalText, without a
// string made of it).
func Bytes(dst []byte, s []byte) []byte { return appendString(dst, s) }

func appendString[T []byte | string](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		for i+8 <= len(s) && !escapeIn8(load8(s, i)) {
			i += 8
		}
		for i < len(s) && htmlSafe[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		if b := s[i]; b < utf8.RuneSelf {
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		// A piece of at most four bytes made a string stays on the stack
		// (as in encoding/json).
		c, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Strings appends a list of strings; nil is null, as json.Marshal writes
// a nil slice.
func Strings(dst []byte, l []string) []byte {
	if l == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, s := range l {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = String(dst, s)
	}
	return append(dst, ']')
}

// Time appends t as its MarshalJSON writes it (RFC 3339 with nanoseconds,
// quoted); the error is MarshalJSON's (a year outside 0-9999), and the
// caller then hands the record to json.Marshal for its own error.
func Time(dst []byte, t time.Time) ([]byte, error) {
	dst = append(dst, '"')
	dst, err := t.AppendText(dst)
	return append(dst, '"'), err
}

// TimeMember appends member name with time t, as Time writes it; ok is
// false where Time's error is not nil (the caller then hands the record
// to json.Marshal).
func TimeMember(dst []byte, name string, t time.Time) (_ []byte, ok bool) {
	dst, err := Time(Key(dst, name), t)
	return dst, err == nil
}

// OptTimeMember is TimeMember for a *time.Time tagged omitempty: nothing
// when t is nil.
func OptTimeMember(dst []byte, name string, t *time.Time) (_ []byte, ok bool) {
	if t == nil {
		return dst, true
	}
	return TimeMember(dst, name, *t)
}

// Bool appends true or false.
func Bool(dst []byte, v bool) []byte {
	if v {
		return append(dst, "true"...)
	}
	return append(dst, "false"...)
}

// OptString appends member name with string v, unless v is empty (a
// field tagged omitempty).
func OptString(dst []byte, name, v string) []byte {
	if v == "" {
		return dst
	}
	return String(Key(dst, name), v)
}

// OptStrings appends member name with list v, unless v is empty (a field
// tagged omitempty).
func OptStrings(dst []byte, name string, v []string) []byte {
	if len(v) == 0 {
		return dst
	}
	return Strings(Key(dst, name), v)
}

// OptTrue appends member name with true, if v (a bool tagged omitempty).
func OptTrue(dst []byte, name string, v bool) []byte {
	if !v {
		return dst
	}
	return append(Key(dst, name), "true"...)
}

// Int appends a decimal integer.
func Int(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// Key appends a member's name and colon, after a comma unless the object
// has just opened.
func Key(dst []byte, name string) []byte {
	if n := len(dst); n > 0 && dst[n-1] != '{' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, name...)
	return append(dst, '"', ':')
}

// Cursor reads the JSON json.Marshal writes for a record: no white space,
// the values a record's fields take. A read it cannot make sets Bad; the
// caller then starts over with json.Unmarshal, which answers for
// anything else (white space, a key in another case, an error).
type Cursor struct {
	B   []byte
	Bad bool
	// S, when the caller sets it, is string(B) as the Cursor was made: a
	// string without escapes is then read as a piece of it (one
	// allocation for the record instead of one a string; each piece
	// keeps the record's bytes alive).
	S string
}

func (c *Cursor) byte(want byte) {
	if c.Bad || len(c.B) == 0 || c.B[0] != want {
		c.Bad = true
		return
	}
	c.B = c.B[1:]
}

// Peek is the next byte, 0 at the end or after a bad read.
func (c *Cursor) Peek() byte {
	if c.Bad || len(c.B) == 0 {
		return 0
	}
	return c.B[0]
}

// quoted returns the next string with its quotes, as it stands, and
// whether it is plain: no escape, no control character, valid UTF-8 (so
// its bytes between the quotes are its value).
func (c *Cursor) quoted() (q []byte, plain bool) {
	if c.Bad || len(c.B) == 0 || c.B[0] != '"' {
		c.Bad = true
		return nil, false
	}
	i := 1
	for i < len(c.B) && plainByte[c.B[i]] {
		i++
	}
	if i < len(c.B) && c.B[i] == '"' { // printable ASCII alone
		q, c.B = c.B[:i+1], c.B[i+1:]
		return q, true
	}
	plain = true
	for ; i < len(c.B); i++ {
		switch b := c.B[i]; {
		case b == '"':
			q, c.B = c.B[:i+1], c.B[i+1:]
			return q, plain && utf8.Valid(q)
		case b == '\\':
			plain = false
			i++
		case b < 0x20:
			plain = false
		}
	}
	c.Bad = true
	return nil, false
}

// unquote is the value of a quoted string with the escapes json.Marshal
// writes (\" \\ \/ \b \f \n \r \t and \u of a character that is not a
// surrogate) in valid UTF-8 without control characters; ok is false for
// anything else, which json.Unmarshal then reads.
func unquote(q []byte) (s string, ok bool) {
	q = q[1 : len(q)-1]
	out := make([]byte, 0, len(q))
	for i := 0; i < len(q); {
		b := q[i]
		if b < 0x20 {
			return "", false
		}
		if b != '\\' {
			out = append(out, b)
			i++
			continue
		}
		if i+1 >= len(q) {
			return "", false
		}
		switch q[i+1] {
		case '"', '\\', '/':
			out = append(out, q[i+1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			if i+6 > len(q) {
				return "", false
			}
			r := rune(0)
			for _, h := range q[i+2 : i+6] {
				switch {
				case h >= '0' && h <= '9':
					h -= '0'
				case h >= 'a' && h <= 'f':
					h -= 'a' - 10
				case h >= 'A' && h <= 'F':
					h -= 'A' - 10
				default:
					return "", false
				}
				r = r<<4 | rune(h)
			}
			if utf16.IsSurrogate(r) {
				return "", false
			}
			out = utf8.AppendRune(out, r)
			i += 6
			continue
		default:
			return "", false
		}
		i += 2
	}
	if !utf8.Valid(out) {
		return "", false
	}
	return string(out), true
}

// raw reads a plain string and returns its bytes without the quotes; any
// other string sets Bad.
func (c *Cursor) raw() []byte {
	q, plain := c.quoted()
	if !plain {
		c.Bad = true
		return nil
	}
	return q[1 : len(q)-1]
}

// Str reads a string. One with escapes is read by unquote, or when it
// holds what unquote does not read (invalid UTF-8, a surrogate), by
// json.Unmarshal alone, so it means what it means there.
func (c *Cursor) Str() string {
	q, plain := c.quoted()
	if c.Bad {
		return ""
	}
	if plain {
		if at := len(c.S) - len(c.B) - len(q); at >= 0 && c.S != "" {
			return c.S[at+1 : at+len(q)-1]
		}
		return string(q[1 : len(q)-1])
	}
	if s, ok := unquote(q); ok {
		return s
	}
	var s string
	if json.Unmarshal(q, &s) != nil {
		c.Bad = true
	}
	return s
}

// Key reads a member's name (plain: a record's names are) and its colon.
func (c *Cursor) Key() []byte {
	k := c.raw()
	c.byte(':')
	return k
}

// Bool reads true or false.
func (c *Cursor) Bool() bool {
	switch {
	case c.Bad:
	case bytes.HasPrefix(c.B, []byte("true")):
		c.B = c.B[4:]
		return true
	case bytes.HasPrefix(c.B, []byte("false")):
		c.B = c.B[5:]
		return false
	default:
		c.Bad = true
	}
	return false
}

// Int reads an integer as json.Marshal writes an int64: an optional minus
// and at most 18 digits without a leading zero. Anything else (a
// fraction, an exponent, a larger number) sets Bad.
func (c *Cursor) Int() int64 {
	if c.Bad {
		return 0
	}
	b := c.B
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	n := 0
	var v int64
	for n < len(b) && b[n] >= '0' && b[n] <= '9' {
		v = v*10 + int64(b[n]-'0')
		n++
	}
	if n == 0 || n > 18 || (n > 1 && b[0] == '0') {
		c.Bad = true
		return 0
	}
	if n < len(b) && (b[n] == '.' || b[n] == 'e' || b[n] == 'E') {
		c.Bad = true
		return 0
	}
	c.B = b[n:]
	if neg {
		return -v
	}
	return v
}

// Null reads a null if one is next.
func (c *Cursor) Null() bool {
	if !c.Bad && bytes.HasPrefix(c.B, []byte("null")) {
		c.B = c.B[4:]
		return true
	}
	return false
}

// Strings reads an array of strings, or null (a nil list).
func (c *Cursor) Strings() []string {
	if c.Null() {
		return nil
	}
	c.byte('[')
	l := []string{}
	if c.Peek() == ']' {
		c.B = c.B[1:]
		return l
	}
	for !c.Bad {
		l = append(l, c.Str())
		if c.Peek() == ',' {
			c.B = c.B[1:]
			continue
		}
		c.byte(']')
		break
	}
	return l
}

// Text reads a plain string into an enum through its UnmarshalText.
func (c *Cursor) Text(v encoding.TextUnmarshaler) {
	s := c.raw()
	if !c.Bad && v.UnmarshalText(s) != nil {
		c.Bad = true
	}
}

// Time reads a time through time.Time's own UnmarshalJSON, as
// json.Unmarshal does.
func (c *Cursor) Time(t *time.Time) {
	q, _ := c.quoted()
	if c.Bad {
		return
	}
	if t.UnmarshalJSON(q) != nil {
		c.Bad = true
	}
}

// Object reads the members of an object, calling member for each name;
// member reads the value.
func (c *Cursor) Object(member func(k []byte)) {
	c.byte('{')
	if c.Peek() == '}' {
		c.B = c.B[1:]
		return
	}
	for !c.Bad {
		member(c.Key())
		if c.Peek() == ',' {
			c.B = c.B[1:]
			continue
		}
		c.byte('}')
		break
	}
}

// Done tells whether the whole input was read without a bad read.
func (c *Cursor) Done() bool { return !c.Bad && len(c.B) == 0 }
