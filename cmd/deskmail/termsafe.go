package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Text from email (subjects, names, addresses, reasons) reaches the
// operator's terminal through the plain output of every command: a
// subject "=?utf-8?q?=1B]0;pwned=07=1B[2J?=" would retitle the window and
// clear the screen, and bidi controls reorder what an operator reads
// ("\u202egnp.exe" shows as "exe.png"). termSafe is the one escape of
// that output: C0 controls, DEL, C1 controls (U+0080-U+009F), format
// characters (Unicode Cf: the bidi embeddings, overrides and isolates
// U+202A-U+202E and U+2066-U+2069, the marks U+200E, U+200F and U+061C,
// zero-width U+200B-U+200D and U+FEFF, soft hyphen, tag characters
// U+E0000-U+E007F ...), the line and paragraph separators U+2028 and
// U+2029, and bytes that are not UTF-8 are shown as \xNN, \uNNNN or
// \UNNNNNNNN. JSON output is written raw (its encoder escapes what JSON
// must), so it stays exact.
func termSafe(s string, keepLayout bool) string {
	clean := func(r rune) bool {
		return r >= 0x20 && r != 0x7f && (r < 0x80 || r > 0x9f) && r != utf8.RuneError &&
			(r < 0xad || !unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)) ||
			keepLayout && (r == '\n' || r == '\t')
	}
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !clean(r) && !(r == utf8.RuneError && n == 3) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case clean(r) || r == utf8.RuneError:
			b.WriteString(s[i : i+n])
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
		i += n
	}
	return b.String()
}

// cell is a value in a table or a line: its line breaks and tabs are
// escaped too, so it cannot forge rows or columns.
func cell(s string) string { return termSafe(s, false) }

// termWriter escapes what goes to the terminal, keeping the output's own
// line breaks and tabs (the tables' columns).
type termWriter struct{ raw io.Writer }

func (t termWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(t.raw, termSafe(string(p), true)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// plainOut wraps the writer of a command's plain output.
func plainOut(w io.Writer) io.Writer {
	if _, ok := w.(termWriter); ok {
		return w
	}
	return termWriter{raw: w}
}

// jsonOut is the writer under plainOut, for JSON.
func jsonOut(w io.Writer) io.Writer {
	if t, ok := w.(termWriter); ok {
		return t.raw
	}
	return w
}
