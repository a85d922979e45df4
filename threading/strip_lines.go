package threading

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Line classifiers of the stripper: what starts a quoted message
// (attributions, header blocks, separators, forward heads) and what a
// client appends (device signatures, the signature delimiter). Each looks
// at most a few lines ahead.

// maxAttribution bounds the length of an attribution (all its lines).
const maxAttribution = 400

// attributionLines returns how many lines (1 to 3) starting at i form an
// attribution, or 0. Clients wrap long ones ("On Mon, ... John Doe <\n
// john@example.com> wrote:", Outlook's "<\nmailto:...>"); a match that
// a later line makes on its own starts at that line instead, so the text
// above an attribution is never taken for part of it.
func attributionLines(lines []string, i int) int {
	first := strings.TrimSpace(lines[i])
	if first == "" || len(first) > maxAttribution || isQuoted(lines[i]) {
		return 0
	}
	if !mayEndAttribution(lines, i) {
		return 0
	}
	parts := []string{strings.ToLower(first)}
	size := len(first)
	for n := 1; n <= 3 && i+n <= len(lines); n++ {
		if n > 1 {
			next := strings.TrimSpace(lines[i+n-1])
			if next == "" || isInvisible(next) || isQuoted(lines[i+n-1]) {
				return 0
			}
			if size += len(next) + 1; size > maxAttribution {
				return 0
			}
			parts = append(parts, strings.ToLower(next))
		}
		if !isAttribution(strings.Join(parts, " ")) {
			continue
		}
		for k := 1; k < n; k++ {
			// A continuation is an address, a time or a verb; a line with
			// its own start word, or after a finished sentence, starts an
			// attribution of its own.
			own := startsLikeAttribution(parts[k]) || endsSentence(parts[k-1])
			if own && isAttribution(strings.Join(parts[k:], " ")) {
				return 0
			}
		}
		return n
	}
	return 0
}

// mayEndAttribution is a cheap test before attributionLines builds
// anything: one of lines i..i+2 (before a blank one) ends with a colon,
// or line i starts with dashes (Zoho's "---- On ... wrote ----").
func mayEndAttribution(lines []string, i int) bool {
	if strings.HasPrefix(strings.TrimSpace(lines[i]), "--") {
		return true
	}
	for j := i; j < len(lines) && j < i+3; j++ {
		t := strings.TrimRight(lines[j], " \t")
		if strings.HasSuffix(t, ":") || strings.HasSuffix(t, "：") {
			return true
		}
		if t == "" {
			return false
		}
	}
	return false
}

func endsSentence(s string) bool {
	return strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") ||
		strings.HasSuffix(s, "。") || strings.HasSuffix(s, ":")
}

// isAttribution tells whether s (lowercased, lines joined) is a quote's
// attribution: it ends with a colon (or is framed by dashes, as Zoho
// writes "---- On ... wrote ----"), names a date, a time or an address,
// and has the shape of one of the clients' forms:
//
//   - "On <date>, <name> wrote:" and translations: a start word (On, Am,
//     Le, El, Em, Il, Op, Den, Dnia, W dniu, Dne, В ...);
//   - "<date> <name> <addr> napisał(a):": the verb at the end;
//   - "<name> <addr> schrieb am <date>:", "<date> skrev <name> <addr>:":
//     the verb next to the address;
//   - "<date>, <name> <addr>:" with no verb (Gmail in Russian, Japanese,
//     Korean; old Gmail's "2016-03-03 17:21 GMT+01:00 Some One <x@y>:").
func isAttribution(s string) bool {
	s = strings.TrimSpace(s)
	dashed := strings.HasPrefix(s, "--")
	s = strings.TrimSpace(strings.TrimLeft(s, "-* "))
	if dashed {
		s = strings.TrimSpace(strings.TrimRight(s, "-* "))
	} else {
		s = strings.TrimSuffix(s, "*")
	}
	body, ok := strings.CutSuffix(s, ":")
	if !ok {
		body, ok = strings.CutSuffix(s, "：")
	}
	if !ok && !dashed {
		return false
	}
	if !ok {
		body = s
	}
	body = strings.TrimSpace(body)
	if body == "" || !looksDated(body) {
		return false
	}
	verb := lastVerb(body)
	if verb < 0 {
		// No verb: a date and "<name> <address>" at the end.
		return hasYear(body) && strings.Contains(body, "@") && (strings.HasSuffix(body, ">") || strings.HasSuffix(body, ")") || strings.HasSuffix(body, "]"))
	}
	end := strings.TrimSpace(strings.TrimRight(body, " (a)(а)."))
	if verbAt(end, len(end)) || startsLikeAttribution(body) {
		return true
	}
	// The verb next to the address: before it ("X <x@y> schrieb am ...")
	// or after it ("... skrev X <x@y>").
	before, after := body[:verb], body[verb:]
	// "<name> kirjoitti <date>:", "<name> wrote on <date>:": a short
	// name that is no pronoun, a dated tail.
	if words := strings.Fields(before); len(words) > 0 && len(words) <= 4 && !oneOf(words[0], notNames) &&
		len(after) < 80 && (hasYear(after) || hasNumericDate(after)) {
		return true
	}
	if at := strings.LastIndexByte(before, '@'); at >= 0 && len(before)-at < 60 {
		return true
	}
	return strings.Contains(after, "@") && strings.Contains(after, "<") && strings.HasSuffix(after, ">") && len(after) < 160
}

// lastVerb returns the position of the last reply verb in s, or -1.
func lastVerb(s string) int {
	pos := -1
	for _, v := range replyVerbs {
		if i := strings.LastIndex(s, v); i > pos {
			pos = i
		}
	}
	return pos
}

// verbAt: s[:end] ends with a reply verb.
func verbAt(s string, end int) bool {
	for _, v := range replyVerbs {
		if strings.HasSuffix(s[:end], v) {
			return true
		}
	}
	return false
}

func startsLikeAttribution(s string) bool {
	for _, p := range attributionStarts {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// isInlineAttribution: an attribution with the old message's text on
// the same line, as Yahoo Mail for Android writes it ("On Mon, ... X<x@y>
// wrote:   Did you ..."): it starts like one and names an address.
func isInlineAttribution(trimmed string) bool {
	if len(trimmed) > 2000 {
		trimmed = trimmed[:2000]
	}
	if !startsLikeAttribution(strings.ToLower(trimmed[:min(len(trimmed), 12)])) {
		return false
	}
	lower := strings.ToLower(trimmed)
	for _, v := range replyVerbs {
		i := strings.Index(lower, v)
		if i <= 0 {
			continue
		}
		after := lower[i+len(v):]
		rest := strings.TrimLeft(after, " \u00a0")
		if !strings.HasPrefix(rest, ":") || strings.TrimSpace(rest[1:]) == "" {
			continue
		}
		head := lower[:i+len(v)+len(after)-len(rest)+1]
		return strings.Contains(head, "@") && len(head) <= maxAttribution && isAttribution(head)
	}
	return false
}

// nameWrote: "Helpdesk wrote:", "Anna schrieb:": an attribution with
// neither date nor address, taken as one only right above a quote. The
// name is one to four words, capitalized, and not a pronoun, so "As I
// wrote:" or "I wrote:" stay text.
func nameWrote(trimmed string) bool {
	if len(trimmed) > 80 {
		return false
	}
	body, ok := strings.CutSuffix(strings.TrimSpace(trimmed), ":")
	if !ok {
		return false
	}
	lower := strings.ToLower(strings.TrimSpace(body))
	for _, v := range replyVerbs {
		name, found := strings.CutSuffix(lower, " "+v)
		if !found {
			continue
		}
		words := strings.Fields(name)
		if len(words) == 0 || len(words) > 4 || oneOf(words[0], notNames) {
			return false
		}
		r, _ := utf8.DecodeRuneInString(trimmed)
		return unicode.IsUpper(r)
	}
	return false
}

// notNames start sentences that end in "wrote:" without naming anyone.
var notNames = []string{"as", "i", "you", "we", "he", "she", "they", "it", "someone", "somebody",
	"like", "what", "who", "wie", "ich", "er", "sie", "comme", "je", "il", "elle", "como", "yo", "zoals", "ik"}

// strongAttribution: the attribution at lines[i:i+n] may cut a reply
// although no quote follows it (Outlook for Mac and webmails that indent
// instead of quoting): it names an address, or a full date and a time.
func strongAttribution(lines []string, i, n int) bool {
	s := strings.ToLower(strings.Join(lines[i:i+n], " "))
	return strings.Contains(s, "@") || ((hasYear(s) || hasNumericDate(s)) && hasTime(s))
}

// looksDated: an '@' (the sender's address), a time such as "10:15" or
// "10.15" (Nordic clients), or a year.
func looksDated(s string) bool {
	return strings.Contains(s, "@") || hasTime(s) || hasYear(s)
}

func hasTime(s string) bool {
	for i := 1; i+2 < len(s); i++ {
		if (s[i] == ':' || s[i] == '.') && isDigit(s[i-1]) && isDigit(s[i+1]) && isDigit(s[i+2]) &&
			(i+3 == len(s) || !isDigit(s[i+3])) {
			return true
		}
	}
	return false
}

// hasYear: four digits 19xx or 20xx standing alone (or before 年).
func hasYear(s string) bool {
	for i := 0; i+4 <= len(s); i++ {
		if (s[i] == '1' && s[i+1] == '9' || s[i] == '2' && s[i+1] == '0') && isDigit(s[i+2]) && isDigit(s[i+3]) &&
			(i == 0 || !isDigit(s[i-1])) && (i+4 == len(s) || !isDigit(s[i+4])) {
			return true
		}
	}
	return false
}

// hasNumericDate: "23/11/26", "11/23/2026", "23.11.26".
func hasNumericDate(s string) bool {
	for i := 1; i+3 < len(s); i++ {
		if (s[i] == '/' || s[i] == '.') && isDigit(s[i-1]) && isDigit(s[i+1]) {
			j := i + 1
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			if j < len(s) && s[j] == s[i] && j+1 < len(s) && isDigit(s[j+1]) {
				return true
			}
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isOriginalMessage: Outlook's "-----Original Message-----" in any of
// its languages (also bold, "*-----...-----*", or with a colon).
func isOriginalMessage(trimmed string) bool {
	if len(trimmed) > 100 || !strings.Contains(trimmed, "--") {
		return false
	}
	inner := strings.ToLower(strings.Trim(trimmed, "-*_= :"))
	for _, s := range originalMessage {
		if inner == s {
			return true
		}
	}
	return false
}

// isForwardMarker: the head of a forwarded message, dashed ("----------
// Forwarded message ---------") or Apple Mail's "Begin forwarded
// message:", in any of the languages.
func isForwardMarker(trimmed string) bool {
	if len(trimmed) > 120 {
		return false
	}
	lower := strings.ToLower(trimmed)
	if strings.Contains(lower, "--") {
		inner := strings.Trim(lower, "-*_= ")
		for _, s := range forwardDashed {
			if inner == s {
				return true
			}
		}
		return false
	}
	lower = strings.TrimSpace(strings.TrimRight(lower, ":： *"))
	for _, s := range forwardLines {
		if lower == s {
			return true
		}
	}
	return false
}

// forwardFollows: the first non-blank line at or after i (a few at most)
// heads a forward.
func forwardFollows(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+3; j++ {
		if t := strings.TrimSpace(lines[j]); t != "" && !isInvisible(t) {
			return isForwardMarker(t)
		}
	}
	return false
}

// isRule: a divider line, "______" (Outlook), "------" (Outlook for Mac,
// Yahoo), "=====". "--" alone is the signature delimiter, not a rule.
func isRule(trimmed string) bool {
	if utf8.RuneCountInString(trimmed) < 3 || len(trimmed) > 200 {
		return false
	}
	for _, r := range trimmed {
		if !strings.ContainsRune("-_=*~─━—", r) && r != ' ' {
			return false
		}
	}
	return strings.Trim(trimmed, "-_=*~─━— ") == "" && strings.TrimSpace(trimmed) != "--"
}

// isOutlookRule: the long rules Outlook writes above the quoted message,
// 20 or more underscores or dashes (" ------------------------------ "),
// a separator even when the header block under them is missing.
func isOutlookRule(trimmed string) bool {
	return len(trimmed) >= 20 && (strings.Trim(trimmed, "_") == "" || strings.Trim(trimmed, "-") == "")
}

// separatorFollows: the first non-blank line at or after i (a few at
// most) starts the quoted message, so a rule above it is its separator.
func separatorFollows(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+3; j++ {
		t := strings.TrimSpace(lines[j])
		if t == "" || isInvisible(t) {
			continue
		}
		if isDeviceSignature(t) {
			continue // dropped anyway; what matters is below it
		}
		return isHeaderBlock(lines, j) || isOriginalMessage(t) || isForwardMarker(t)
	}
	return false
}

// isSigDelimiter: "-- " (RFC 3676 section 4.3), or "--" as many clients
// write it after losing the space.
func isSigDelimiter(line string) bool {
	return strings.TrimRight(line, " \t") == "--"
}

// headerClass returns the class (hFrom, hDate, hTo, hSubject) of a
// header line "Name: value" ("*From:*" from HTML, "De :" in French,
// "发件人：" in Chinese), or 0.
func headerClass(line string) int {
	if len(line) > 64 {
		line = line[:64] // the key is near the start; keep the scan constant
	}
	t := strings.TrimLeft(strings.TrimSpace(line), "*")
	colon := strings.IndexByte(t, ':')
	if c := strings.Index(t, "："); c >= 0 && (colon < 0 || c < colon) {
		colon = c
	}
	if colon <= 0 || colon > 32 {
		return 0
	}
	key := strings.ToLower(strings.TrimSpace(strings.Trim(t[:colon], "* \u00a0\t")))
	return headerClasses[key]
}

// isHeaderBlock: a header line at i and, in the lines right below it (up
// to two wrapped values skipped, up to the next blank line), header lines of at least
// three classes in all, one of them From: the head of a quoted or
// forwarded message (Outlook's From/Sent/To/Subject, Gmail's forward).
func isHeaderBlock(lines []string, i int) bool {
	classes := headerClass(lines[i])
	if classes == 0 {
		return false
	}
	wrapped, prevHeader := 0, true
	for j := i + 1; j < len(lines) && j <= i+10; j++ {
		if isBlank(lines[j]) || isQuoted(lines[j]) {
			break
		}
		c := headerClass(lines[j])
		if c == 0 {
			// A wrapped value continues the header line right above.
			if wrapped++; wrapped > 2 || !prevHeader {
				break
			}
			prevHeader = false
			continue
		}
		prevHeader = true
		classes |= c
		if classes&hFrom != 0 && bitCount(classes) >= 3 {
			return true
		}
	}
	return false
}

func bitCount(x int) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// maxDeviceSignature bounds the line; "Get Outlook for iOS<https://...>"
// carries a link.
const maxDeviceSignature = 120

// deviceSignatureFirst holds the first letters (lowercased) of the
// deviceSignatures, and of the lines deviceSignatureEnds end.
var deviceSignatureFirst = func() map[rune]bool {
	m := map[rune]bool{}
	for _, p := range deviceSignatures {
		r, _ := utf8.DecodeRuneInString(p)
		m[r] = true
	}
	return m
}()

// mayBeDeviceSignature is a cheap test before isDeviceSignature lowers
// the line: its first letter starts a known signature, or it has one of
// the endings.
func mayBeDeviceSignature(trimmed string) bool {
	r, _ := utf8.DecodeRuneInString(trimmed)
	if deviceSignatureFirst[unicode.ToLower(r)] {
		return true
	}
	tail := strings.ToLower(trimmed[max(0, len(trimmed)-40):])
	for _, e := range deviceSignatureEnds {
		if strings.Contains(tail, e) {
			return true
		}
	}
	return false
}

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
	lower := strings.ToLower(trimmed)
	head := lower
	for _, sep := range []string{"<", "(", "http", "[", "：", ": "} {
		if i := strings.Index(head, sep); i > 0 {
			head = head[:i]
		}
	}
	head = strings.TrimSpace(strings.TrimRight(strings.TrimSpace(head), ".。!"))
	if strings.ContainsAny(head, ",?!;") || len(strings.Fields(head)) > 8 {
		return false
	}
	headSp := head + " "
	for _, p := range deviceSignatures {
		if strings.HasPrefix(headSp, p) {
			return !strings.HasPrefix(p, "von mein") || strings.HasSuffix(head, "gesendet")
		}
	}
	for _, e := range deviceSignatureEnds {
		if strings.HasSuffix(head, e) {
			return true
		}
	}
	return false
}

// isBlank: nothing but white space and invisible characters.
func isBlank(line string) bool {
	t := strings.TrimSpace(line)
	return t == "" || isInvisible(t)
}
