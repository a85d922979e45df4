package threading

import "bytes"

// ASCII fast paths of the per-line tests: most lines of most emails are
// ASCII, and strings.ToLower allocates a copy of every line with a
// capital letter. On an ASCII string lowering changes only the letters
// A-Z, keeps every length and index, and gives an ASCII string, so a test
// over the line lowered into a buffer on the stack answers as the test
// over strings.ToLower's copy (strip_ascii_test.go checks each against
// the code it replaces).

// isASCII: every byte of s is below 0x80.
func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// appendLowerASCII appends s, an ASCII string, lower-cased.
func appendLowerASCII(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// forwardMarkerASCII is isForwardMarker's answer for an ASCII line of 12
// to 120 bytes (turkishI changes no ASCII string).
func forwardMarkerASCII(trimmed string) bool {
	var buf [120]byte
	lower := appendLowerASCII(buf[:0], trimmed)
	if bytes.Contains(lower, []byte("--")) {
		_, ok := forwardDashedSet[string(bytes.Trim(lower, "-*_= "))]
		return ok
	}
	_, ok := forwardLineSet[string(bytes.TrimSpace(bytes.TrimRight(lower, ":： *")))]
	return ok
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
func deviceHeadPunctASCII(trimmed string) bool {
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
