package threading

import (
	"bytes"
	"strings"
)

// ASCII fast paths of the per-line tests: most lines of most emails are
// ASCII, and strings.ToLower allocates a copy of every line with a
// capital letter. On an ASCII string lowering changes only the letters
// A-Z, keeps every length and index, and gives an ASCII string, so a test
// over the line lowered into a buffer on the stack answers as the test
// over strings.ToLower's copy (strip_ascii_test.go checks each against
// the code it replaces).

// isASCII: every byte of s is below 0x80.
func isASCII(s string) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 { // eight bytes a step
		w := s[i : i+8] // one bounds check for the eight loads
		if (w[0]|w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7])&0x80 != 0 {
			return false
		}
	}
	for ; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// appendLowerASCII appends s, an ASCII string, lower-cased.
func appendLowerASCII(dst []byte, s string) []byte {
	n := len(dst)
	dst = append(dst, s...) // copied at once, lowered in place
	for i, c := range dst[n:] {
		if 'A' <= c && c <= 'Z' {
			dst[n+i] = c + ('a' - 'A')
		}
	}
	return dst
}

// forwardMarkerASCII is isForwardMarker's answer for an ASCII line of 12
// to 120 bytes (turkishI changes no ASCII string).
func forwardMarkerASCII(trimmed string) bool {
	// The key looked up has the length of the line less what the trims
	// take, none of which changes with the case: a line whose key has no
	// entry of its length is no marker, and is not lowered.
	if strings.Contains(trimmed, "--") {
		if !forwardDashedLen[len(strings.Trim(trimmed, "-*_= "))] {
			return false
		}
	} else if !forwardLineLen[len(strings.TrimSpace(strings.TrimRight(trimmed, ": *")))] {
		return false
	}
	var buf [120]byte
	lower := appendLowerASCII(buf[:0], trimmed)
	if bytes.Contains(lower, []byte("--")) {
		_, ok := forwardDashedSet[string(bytes.Trim(lower, "-*_= "))]
		return ok
	}
	_, ok := forwardLineSet[string(bytes.TrimSpace(bytes.TrimRight(lower, ":： *")))]
	return ok
}

// forwardDashedLen and forwardLineLen hold the lengths of the entries of
// forwardDashedSet and forwardLineSet, up to the 120 bytes of a line
// forwardMarkerASCII reads.
var forwardDashedLen, forwardLineLen = lengths(forwardDashed), lengths(forwardLines)

func lengths(l []string) (t [121]bool) {
	for _, s := range l {
		if len(s) <= 120 {
			t[len(s)] = true
		}
	}
	return t
}

// containsLowerASCII: s, an ASCII string (of at most 64 bytes, or it is
// lowered on the heap), lowered, contains any of subs.
func containsLowerASCII(s string, subs [][]byte) bool {
	var buf [64]byte
	lower := appendLowerASCII(buf[:0], s)
	for _, sub := range subs {
		if bytes.Contains(lower, sub) {
			return true
		}
	}
	return false
}

func byteSlices(l []string) [][]byte {
	out := make([][]byte, len(l))
	for i, s := range l {
		out[i] = []byte(s)
	}
	return out
}

var listBytes = [][]byte{[]byte("list")}

// deviceHeadPunctASCII: for an ASCII line of at most maxDeviceSignature
// bytes, the head isDeviceSignature reads (before the first link,
// bracket or colon) holds sentence punctuation, so the line is no device
// signature.
//
// The head is a prefix of the line, cut at the first occurrence of a
// separator when it is not at the start, and then trimmed of white space
// and ".。!" on the right, which leaves a comma, question mark or
// semicolon in place. So the line's first such mark at p is in the head
// unless a separator first occurs at 1..p (the separators cannot overlap
// one another, so a later one's first occurrence before p lies in the
// head too); only then, or for a '!' alone, is the head built. A line
// without any of the four marks has none in its head.
func deviceHeadPunctASCII(trimmed string) bool {
	p, bang := -1, false
	for i := 0; i < len(trimmed); i++ {
		switch trimmed[i] {
		case ',', '?', ';':
			p = i
		case '!':
			bang = true
			continue
		default:
			continue
		}
		break
	}
	if p < 0 {
		if !bang {
			return false
		}
		return deviceHeadPunctBuilt(trimmed)
	}
	if sepFirstAtMost(trimmed, p) {
		return deviceHeadPunctBuilt(trimmed)
	}
	return true
}

// sepFirstAtMost: one of deviceHeadSeps (in any case, for "http") first
// occurs in the ASCII line s at an index from 1 to p. (A separator at 0
// is its first occurrence: it cuts nothing.)
func sepFirstAtMost(s string, p int) bool {
	for i := 1; i <= p && i < len(s); i++ {
		switch c := s[i]; c {
		case '<', '(', '[':
			if s[0] != c {
				return true
			}
		case ':':
			if i+1 < len(s) && s[i+1] == ' ' && !strings.HasPrefix(s, ": ") {
				return true
			}
		case 'h', 'H':
			if i+4 <= len(s) && httpFold(s[i:i+4]) && !(len(s) >= 4 && httpFold(s[:4])) {
				return true
			}
		}
	}
	return false
}

// httpFold: the four ASCII bytes s are "http" in any case.
func httpFold(s string) bool {
	return s[0]|0x20 == 'h' && s[1]|0x20 == 't' && s[2]|0x20 == 't' && s[3]|0x20 == 'p'
}

// deviceHeadPunctBuilt is deviceHeadPunctASCII by building the head.
func deviceHeadPunctBuilt(trimmed string) bool {
	var buf [maxDeviceSignature]byte
	head := appendLowerASCII(buf[:0], trimmed)
	for _, sep := range deviceHeadSepBytes {
		if i := bytes.Index(head, sep); i > 0 {
			head = head[:i]
		}
	}
	head = bytes.TrimSpace(bytes.TrimRight(bytes.TrimSpace(head), ".。!"))
	return bytes.ContainsAny(head, ",?!;")
}

// trimSpace is strings.TrimSpace(s), at once for a line that starts and
// ends with a printable ASCII byte (most lines of a body): the stripper
// trims each line in several of its tests.
func trimSpace(s string) string {
	if s != "" && s[0] > ' ' && s[0] < 0x80 && s[len(s)-1] > ' ' && s[len(s)-1] < 0x80 {
		return s
	}
	return strings.TrimSpace(s)
}
