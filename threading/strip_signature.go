package threading

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// What clients append below the text: device signatures ("Sent from my
// iPhone") and the signature delimiter.

// isSigDelimiter: "-- " (RFC 3676 section 4.3), or "--" as many clients
// write it after losing the space, or "--=20", the same line in a body
// left in quoted-printable (the space at the end of a line escaped).
func isSigDelimiter(line string) bool {
	t := strings.TrimRight(line, " \t")
	return t == "--" || t == "--=20"
}

// maxDeviceSignature bounds the line; "Get Outlook for iOS<https://...>"
// carries a link.
const maxDeviceSignature = 120

// deviceSignatureFirst holds the first letters (lowercased) of the
// deviceSignatures, and of the lines deviceSignatureEnds end.
var deviceSignatureFirst = runeSet(deviceSignatures, utf8.DecodeRuneInString)

// mayBeDeviceSignature is a cheap test before isDeviceSignature lowers
// the line: its first letter starts a known signature, or it has one of
// the endings.
func mayBeDeviceSignature(trimmed string) bool {
	r, _ := utf8.DecodeRuneInString(trimmed)
	if deviceSignatureFirst.has(unicode.ToLower(r)) {
		return true
	}
	tail := trimmed[max(0, len(trimmed)-40):]
	if isASCII(tail) {
		// deviceSignatureEnds that are not ASCII cannot occur in it.
		return containsLowerASCII(tail, mayEndDeviceSignature)
	}
	tail = strings.ToLower(tail)
	if strings.Contains(tail, "ios") || strings.Contains(tail, "android") {
		return true // outlookPromo
	}
	for _, e := range deviceSignatureEnds {
		if strings.Contains(tail, e) {
			return true
		}
	}
	return false
}

// deviceHeadSeps end the head of a line isDeviceSignature reads.
var deviceHeadSeps = []string{"<", "(", "http", "[", "：", ": "}

// mayEndDeviceSignature is what mayBeDeviceSignature looks for in the
// end of a line, and deviceHeadSepBytes deviceHeadSeps, as byte slices
// (strip_ascii.go).
var (
	mayEndDeviceSignature = byteSlices(append([]string{"ios", "android"}, deviceSignatureEnds...))
	deviceHeadSepBytes    = byteSlices(deviceHeadSeps)
)

// isDeviceSignature matches a line such as "Sent from my iPhone" in one
// of the languages: short, no sentence punctuation before any link.
func isDeviceSignature(trimmed string) bool {
	// Every one has two words at least ("iPhoneから送信" is one token but
	// over 12 bytes).
	if len(trimmed) > maxDeviceSignature || len(trimmed) < 12 {
		return false
	}
	if !mayBeDeviceSignature(trimmed) {
		return false
	}
	if isASCII(trimmed) && deviceHeadPunctASCII(trimmed) {
		return false
	}
	lower := strings.ToLower(trimmed)
	head := lower
	for _, sep := range deviceHeadSeps {
		if i := strings.Index(head, sep); i > 0 {
			head = head[:i]
		}
	}
	head = trimSpace(strings.TrimRight(trimSpace(head), ".。!"))
	if strings.ContainsAny(head, ",?!;") {
		return false
	}
	words := countFields(head)
	if words > 12 {
		return false
	}
	headSp := head + " "
	for _, p := range deviceSignatures {
		if strings.HasPrefix(headSp, p) {
			// German puts the verb last: "Von meinem iPhone gesendet",
			// "Diese Nachricht wurde von meinem ... gesendet"; start and
			// end together allow a longer line.
			if strings.HasPrefix(p, "von mein") || strings.HasPrefix(p, "diese ") {
				return strings.HasSuffix(head, "gesendet")
			}
			return words <= 8
		}
	}
	if words > 8 {
		return false
	}
	if outlookPromo(head) && strings.Contains(lower, "http") {
		return true
	}
	for _, e := range deviceSignatureEnds {
		if strings.HasSuffix(head, e) {
			return true
		}
	}
	// "Sent from TypeApp", "Sent from Spark": an app's name, one
	// capitalized word ("Sent from home" is no signature).
	if words == 3 && strings.HasPrefix(head, "sent from ") {
		w := strings.Fields(trimmed)
		if len(w) < 3 {
			return false
		}
		r, _ := utf8.DecodeRuneInString(w[2])
		return unicode.IsUpper(r)
	}
	return false
}

// outlookPromo: Outlook's mobile apps sign with a call to fetch them in
// the reader's language, "<verb> Outlook <for> iOS|Android" ("Download
// Outlook for Android", "Holen Sie sich Outlook für iOS", "Scarica
// Outlook per Android"): three to six words, "outlook" among the first
// four, the platform last, and the app's link on the line (the caller
// checks it: "I use Outlook for iOS" alone is the person's).
func outlookPromo(head string) bool {
	w := strings.Fields(head)
	if len(w) < 3 || len(w) > 6 || (w[len(w)-1] != "ios" && w[len(w)-1] != "android") {
		return false
	}
	for _, x := range w[:min(4, len(w)-2)] {
		if x == "outlook" {
			return true
		}
	}
	return false
}

// isBareLink: a line that is only a link ("<https://...>"), as clients
// put under a signature.
func isBareLink(t string) bool {
	t = strings.TrimSuffix(strings.TrimPrefix(strings.Trim(t, "<>()[] "), "‹"), "›")
	return (strings.HasPrefix(t, "http://") || strings.HasPrefix(t, "https://")) && !strings.ContainsAny(t, " \t")
}

// isBlank: nothing but white space and invisible characters.
func isBlank(line string) bool {
	t := trimSpace(line)
	return t == "" || isInvisible(t)
}

// countFields is len(strings.Fields(s)) without making the fields.
func countFields(s string) int {
	n, in := 0, false
	for _, r := range s {
		if unicode.IsSpace(r) {
			in = false
			continue
		}
		if !in {
			n++
		}
		in = true
	}
	return n
}
