package threading

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Subject tags are the last fallback for threading: "[#1234] Printer on
// fire". Clients keep the tag when replying, but anyone can type one, so
// Matcher honours a tag only for a sender who already follows the
// conversation (SPEC section 6).

// MaxTagLen bounds the text between "[#" and "]".
const MaxTagLen = 32

// MaxSubjectScan bounds how much of a subject is looked at. RFC 5322
// section 2.1.1 limits a line to 998 octets; a folded Subject can be longer,
// but nothing useful sits beyond a few kilobytes.
const MaxSubjectScan = 4096

// FormatTag returns "[#tag]". The tag should be a short item or
// conversation number; characters other than letters, digits, '-' and
// '_' are dropped so that ParseTag reads back exactly the same tag.
func FormatTag(tag string) string {
	var b strings.Builder
	b.WriteString("[#")
	n := 0
	for _, r := range tag {
		if n == MaxTagLen {
			break
		}
		if isTagRune(r) {
			b.WriteRune(r)
			n++
		}
	}
	b.WriteByte(']')
	return b.String()
}

func isTagRune(r rune) bool {
	return r < utf8.RuneSelf && (r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r))
}

// ParseTag finds the first "[#tag]" in subject, at any position: clients
// and mailing lists add their own prefixes ("AW: [ext] Re: [#12] ...").
// Tags compare case-insensitively; ParseTag returns them lowercased.
func ParseTag(subject string) (tag string, ok bool) {
	start, end, ok := findTag(subject)
	if !ok {
		return "", false
	}
	return strings.ToLower(subject[start:end]), true
}

// findTag returns the byte offsets of the first tag's text (between "[#"
// and "]") in subject.
func findTag(subject string) (start, end int, ok bool) {
	if len(subject) > MaxSubjectScan {
		subject = subject[:MaxSubjectScan]
	}
	for i := 0; i < len(subject); {
		j := strings.Index(subject[i:], "[#")
		if j < 0 {
			return 0, 0, false
		}
		start = i + j + 2
		end = start
		for end < len(subject) && end-start <= MaxTagLen && isTagRune(rune(subject[end])) {
			end++
		}
		if end < len(subject) && subject[end] == ']' && end > start && end-start <= MaxTagLen {
			return start, end, true
		}
		i = start
	}
	return 0, 0, false
}

// StripTag removes every "[#tag]" ParseTag would find, and the blanks after it.
func StripTag(subject string) string {
	for range 8 { // bounded: a subject with more tags keeps the rest
		start, end, ok := findTag(subject)
		if !ok {
			break
		}
		subject = subject[:start-2] + strings.TrimLeft(subject[end+1:], " \t")
	}
	return strings.TrimSpace(subject)
}

// replyPrefixes are the reply and forward markers mail clients put before a
// subject, lowercased, without the colon. RFC 5322 section 3.6.5 only
// names "Re: "; the others come from localised clients:
// German AW/WG, Nordic SV/VS/VB/VL, Dutch Antw/Doorst/Fw, French TR/RE/Réf,
// Spanish/Portuguese RV/ENC/RES, Italian R/RIF/I, Polish Odp/PD, Finnish
// VS/VL, Turkish YNT/İLT, Greek ΑΠ/ΣΧΕΤ/ΠΡΘ, Chinese 回复/答复/转发.
var replyPrefixes = map[string]bool{
	"re": true, "fw": true, "fwd": true, "aw": true, "wg": true,
	"sv": true, "vs": true, "vb": true, "vl": true, "antw": true,
	"doorst": true, "tr": true, "réf": true, "ref": true, "rv": true,
	"enc": true, "res": true, "r": true, "rif": true, "i": true,
	"odp": true, "pd": true, "ynt": true, "i̇lt": true, "ilt": true,
	"απ": true, "σχετ": true, "πρθ": true, "回复": true, "答复": true,
	"转发": true, "回覆": true, "轉寄": true, "fs": true,
}

// NormalizeSubject removes leading reply and forward markers, in any
// case and language ("Re: AW: Fwd: RE[2]: SV: x" -> "x"), including
// counters like "Re[2]:" or "Re(3):" and full-width colons, and folds
// runs of white space. It keeps tags: use StripTag for those.
func NormalizeSubject(subject string) string {
	subject = truncateUTF8(subject, MaxSubjectScan)
	s := strings.Join(strings.Fields(subject), " ")
	for {
		rest, ok := cutReplyPrefix(s)
		if !ok {
			return s
		}
		s = rest
	}
}

// cutReplyPrefix removes one "word:" prefix if word is a reply marker.
func cutReplyPrefix(s string) (string, bool) {
	colon := strings.IndexAny(s, ":：")
	if colon <= 0 || colon > 16 {
		return s, false
	}
	word := strings.TrimSpace(s[:colon])
	// "Re[2]", "Re(2)", "Re^2": a counter some clients add.
	if i := strings.IndexAny(word, "[(^"); i > 0 {
		if strings.Trim(word[i:], "[]()^0123456789") != "" {
			return s, false
		}
		word = word[:i]
	}
	if !replyPrefixes[strings.ToLower(word)] {
		return s, false
	}
	_, size := utf8.DecodeRuneInString(s[colon:])
	return strings.TrimLeft(s[colon+size:], " \t"), true
}

// ThreadSubject is the subject of every email of a conversation: the tag,
// then the topic without reply markers. Gmail starts a new thread when
// the subject changes (beyond "Re:"-style prefixes), so all emails of one
// conversation must carry the same one.
func ThreadSubject(topic, tag string) string {
	topic = NormalizeSubject(StripTag(topic))
	if tag == "" {
		return topic
	}
	if topic == "" {
		return FormatTag(tag)
	}
	return FormatTag(tag) + " " + topic
}

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
