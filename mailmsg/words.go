package mailmsg

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-message/charset"
)

// DecodeWords decodes the RFC 2047 encoded words of an unstructured field
// such as Subject, in one linear pass.
//
// It is more tolerant than mime.WordDecoder, because the subjects that
// matter here are written by the mailers that break the rules most:
// Outlook and Exchange split a localized "Automatic reply:" into several
// encoded words and cut a multi-byte character (UTF-8, and worse,
// ISO-2022-JP with its shift sequences) between two of them. RFC 2047 §5
// forbids that, but the words are adjacent, so their decoded bytes are
// joined per charset before the charset is converted, which restores the
// character. White space between two encoded words is dropped (RFC 2047
// §6.2); anything that does not decode is kept as it was.
func DecodeWords(s string) string {
	if !strings.Contains(s, "=?") {
		return s
	}
	var out strings.Builder
	var run []byte   // decoded bytes of adjacent words in runCS
	var runCS string // their charset
	var gap string   // white space after the last word, dropped if another follows
	flush := func() {
		if run != nil {
			out.WriteString(ToUTF8(runCS, run))
			run, runCS = nil, ""
		}
	}
	for len(s) > 0 {
		i := strings.Index(s, "=?")
		if i < 0 {
			break
		}
		if i > 0 {
			if strings.TrimSpace(s[:i]) != "" || run == nil {
				flush()
				out.WriteString(gap)
				out.WriteString(s[:i])
				gap = ""
			} else {
				gap = s[:i]
			}
		}
		cs, data, n, ok := parseWord(s[i:])
		if !ok {
			flush()
			out.WriteString(gap)
			out.WriteString("=?")
			gap = ""
			s = s[i+2:]
			continue
		}
		if cs != runCS {
			flush()
		}
		gap = ""
		runCS = cs
		run = append(run, data...)
		if run == nil {
			run = []byte{}
		}
		s = s[i+n:]
	}
	flush()
	out.WriteString(gap)
	out.WriteString(s)
	return out.String()
}

// maxWordText is the longest encoded text of one word read. RFC 2047
// section 2 allows 75 characters per word; mailers write longer ones.
const maxWordText = 1000

// parseWord reads one encoded word "=?charset?enc?text?=" at the start of
// s. It returns the lower-cased charset (without an RFC 2231 language),
// the decoded bytes and the length consumed.
func parseWord(s string) (charset string, data []byte, n int, ok bool) {
	rest := s[2:]
	q1 := strings.IndexByte(rest, '?')
	if q1 <= 0 || q1 > 40 || len(rest) < q1+3 || rest[q1+2] != '?' {
		return "", nil, 0, false
	}
	charset = strings.ToLower(rest[:q1])
	if j := strings.IndexByte(charset, '*'); j >= 0 {
		charset = charset[:j]
	}
	enc := rest[q1+1]
	text := rest[q1+3:]
	if len(text) > maxWordText+2 {
		// Look no further than a word can be long: "=?a?q?" repeated
		// without a closing "?=" must cost linear time, not quadratic.
		text = text[:maxWordText+2]
	}
	end := strings.Index(text, "?=")
	if end < 0 || end > maxWordText {
		return "", nil, 0, false
	}
	text = text[:end]
	if strings.ContainsAny(text, " \t\r\n") {
		// Encoded words contain no white space (RFC 2047 §2); some
		// mailers fold inside them anyway: keep only what is not blank.
		text = strings.Join(strings.Fields(text), "")
	}
	switch enc {
	case 'B', 'b':
		data = decodeBase64Loose(text)
	case 'Q', 'q':
		data = decodeQ(text)
	default:
		return "", nil, 0, false
	}
	return charset, data, 2 + q1 + 3 + end + 2, true
}

// decodeBase64Loose decodes base64 with or without padding, keeping what
// decodes of a damaged word.
func decodeBase64Loose(text string) []byte {
	text = strings.TrimRight(text, "=")
	out := make([]byte, base64.RawStdEncoding.DecodedLen(len(text)))
	n, err := base64.RawStdEncoding.Decode(out, []byte(text))
	if err != nil {
		if ce, ok := err.(base64.CorruptInputError); ok {
			n = int(ce) / 4 * 3
			if n > len(out) {
				n = len(out)
			}
		}
	}
	return out[:n]
}

// decodeQ undoes RFC 2047 §4.2 "Q" encoding.
func decodeQ(text string) []byte {
	out := make([]byte, 0, len(text))
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '_':
			out = append(out, ' ')
		case c == '=' && i+2 < len(text) && isHex(text[i+1]) && isHex(text[i+2]):
			out = append(out, unhex(text[i+1])<<4|unhex(text[i+2]))
			i += 2
		default:
			out = append(out, c)
		}
	}
	return out
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// ToUTF8 converts b from charset (any name go-message's charset package
// knows) to UTF-8; unknown charsets and invalid bytes become U+FFFD,
// never an error.
func ToUTF8(cs string, b []byte) string {
	switch strings.ToLower(cs) {
	case "utf-8", "utf8", "us-ascii", "ascii", "":
		s := string(b)
		if utf8.ValidString(s) {
			return s // utf8.ValidString reads 8 bytes at a time where ToValidUTF8 decodes each rune
		}
		return strings.ToValidUTF8(s, "\uFFFD")
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	out, _ := io.ReadAll(io.LimitReader(r, int64(8*len(b)+16)))
	if !utf8.Valid(out) {
		return strings.ToValidUTF8(string(out), "\uFFFD")
	}
	return string(out)
}
