package threading

import (
	"math/bits"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The heads of a quoted or forwarded message that are not attributions:
// Outlook's separators and header blocks, forward heads, rules.

// isOriginalMessage: Outlook's "-----Original Message-----" in any of
// its languages (also bold, "*-----...-----*", or with a colon), and by
// shape any short phrase framed by dashes on both sides that names a
// message ("-------- Oprindelig besked --------", "-----Antwort
// Nachricht-----"): clients translate the words, never the frame. A
// forward's head has the same shape; classify looks for it first.
func isOriginalMessage(trimmed string) bool {
	if len(trimmed) > 100 || !strings.Contains(trimmed, "--") {
		return false
	}
	inner := turkishI(strings.ToLower(strings.Trim(trimmed, "-*_= :")))
	for _, s := range originalMessage {
		if inner == s {
			return true
		}
	}
	return framedMessage(trimmed, inner)
}

// framedMessage: trimmed is "--" + one to four words + "--" (dashes
// around, bold stars or a colon aside) and one of the words names a
// message (messageNouns).
func framedMessage(trimmed, inner string) bool {
	t := strings.Trim(trimmed, "*: ")
	if !strings.HasPrefix(t, "--") || !strings.HasSuffix(t, "--") {
		return false
	}
	words := strings.Fields(inner)
	if len(words) == 0 || len(words) > 4 {
		return false
	}
	for _, w := range words {
		for _, n := range messageNouns {
			if w == n {
				return true
			}
		}
	}
	return false
}

// isForwardMarker: the head of a forwarded message, dashed ("----------
// Forwarded message ---------") or Apple Mail's "Begin forwarded
// message:", in any of the languages.
func isForwardMarker(trimmed string) bool {
	if len(trimmed) > 120 || len(trimmed) < 12 {
		return false
	}
	if isASCII(trimmed) {
		return forwardMarkerASCII(trimmed)
	}
	lower := turkishI(strings.ToLower(trimmed))
	if strings.Contains(lower, "--") {
		_, ok := forwardDashedSet[strings.Trim(lower, "-*_= ")]
		return ok
	}
	_, ok := forwardLineSet[trimSpace(strings.TrimRight(lower, ":： *"))]
	return ok
}

// forwardDashedSet and forwardLineSet are forwardDashed and forwardLines
// as sets: a line is compared with all of them.
var (
	forwardDashedSet = stringSet(forwardDashed)
	forwardLineSet   = stringSet(forwardLines)
)

func stringSet(l []string) map[string]struct{} {
	m := make(map[string]struct{}, len(l))
	for _, s := range l {
		m[s] = struct{}{}
	}
	return m
}

// forwardFollows: the first non-blank line at or after i (a few at most)
// heads a forward.
func forwardFollows(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+3; j++ {
		if !isBlank(lines[j]) {
			return isForward(lines, j)
		}
	}
	return false
}

// isForward: line i heads a forwarded message: a forward marker, or a
// header block whose subject starts with a forward prefix ("FW:", "WG:",
// "TR:", "RV:", "ENC:"...; Outlook writes no marker), not with a reply
// prefix ("RE: FW: x" answers a forward).
func isForward(lines []string, i int) bool {
	return isForwardMarker(trimSpace(lines[i])) || (isHeaderBlock(lines, i) && forwardSubject(lines, i))
}

// forwardSubject: the header block at i has a forward's subject.
func forwardSubject(lines []string, i int) bool {
	for j := i; j < len(lines) && j <= i+10 && !isBlank(lines[j]); j++ {
		if headerClass(lines[j]) != hSubject {
			continue
		}
		v := headerValue(lines[j])
		end := strings.IndexAny(v, ":：")
		if end <= 0 || end > 12 {
			return false
		}
		word := strings.ToLower(trimSpace(strings.TrimRight(v[:end], "0123456789[]() ")))
		return forwardPrefixes[turkishI(word)]
	}
	return false
}

// forwardPrefixes start the subject of a forward: English FW/Fwd, German
// WG, French TR, Spanish RV, Portuguese ENC, Italian I, Polish PD, Dutch
// Doorst, Swedish VB, Finnish VL, Turkish İLT, Chinese 转发/轉寄.
var forwardPrefixes = map[string]bool{
	"fw": true, "fwd": true, "wg": true, "tr": true, "rv": true, "enc": true, "i": true,
	"pd": true, "doorst": true, "vb": true, "vl": true, "ilt": true, "转发": true, "轉寄": true,
}

// headerValue is what follows the colon of a header line.
func headerValue(line string) string {
	t := strings.TrimLeft(trimSpace(line), "*")
	colon, size := strings.IndexByte(t, ':'), 1
	if c := strings.Index(t, "："); c >= 0 && (colon < 0 || c < colon) {
		colon, size = c, len("：")
	}
	if colon < 0 {
		return ""
	}
	return trimSpace(strings.TrimLeft(t[colon+size:], "* "))
}

// loneFrom: line i is a From header alone in its paragraph (blank lines
// above and below it, more lines after), its value an address: the head
// of a quoted message whose other header lines a client lost ("From:
// x@y" above a notification's text). A From line with no address, or
// with more lines of its paragraph under it, is left to isHeaderBlock.
func loneFrom(lines []string, i int) bool {
	if i == 0 || i+2 >= len(lines) || !isBlank(lines[i-1]) || !isBlank(lines[i+1]) || headerClass(lines[i]) != hFrom {
		return false
	}
	v := headerValue(lines[i])
	if !strings.Contains(v, "@") || len(strings.Fields(v)) > 6 || endsSentence(v) {
		return false
	}
	return !onlyBlankAfter(lines, i+1)
}

// headsHeaderBlock: line i is a short dated line right above a header
// block, part of its head ("Message du 03/03/26 17:21" of French
// webmails).
func headsHeaderBlock(lines []string, i int) bool {
	t := trimSpace(lines[i])
	if len(t) > 80 || len(t) < 6 || i+1 >= len(lines) || endsSentence(t) || !(hasTime(t) || hasNumericDate(t) || hasYear(t)) ||
		headerClass(lines[i+1]) == 0 || len(strings.Fields(t)) > 8 {
		return false
	}
	return isHeaderBlock(lines, i+1)
}

// listFooterWords end the line naming the list in a mailing list's
// footer ("dev-tools mailing list"), lowercased.
var listFooterWords = []string{"mailing list", "mailingliste", "mailing-liste", "mailinglist",
	"liste de diffusion", "lista de correo", "lista de discussão", "lista di discussione"}

// isListFooter: line i names a mailing list and an address or a link
// follows it: Mailman's footer ("list-name mailing list / list@host /
// https://host/mailman/listinfo/list").
func isListFooter(lines []string, i int) bool {
	t := trimSpace(lines[i])
	if len(t) > 120 || len(t) < 11 {
		return false
	}
	if tail := t[max(0, len(t)-24):]; isASCII(tail) {
		if !containsLowerASCII(tail, listBytes) {
			return false
		}
	} else if !strings.Contains(strings.ToLower(tail), "list") {
		return false
	}
	lower := strings.ToLower(t)
	found := false
	for _, w := range listFooterWords {
		if strings.HasSuffix(lower, w) {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	for j := i + 1; j < len(lines) && j < i+3; j++ {
		if n := trimSpace(lines[j]); n != "" {
			return strings.Contains(n, "@") || strings.Contains(n, "http")
		}
	}
	return false
}

// isShortRule: a line of two or more underscores, dashes or equal signs
// and nothing else: too short for isRule, but a rule right above a list
// footer's name.
func isShortRule(line string) bool {
	t := trimSpace(line)
	return len(t) >= 2 && len(t) <= 80 && strings.Trim(t, "_-=") == ""
}

// listFooterFollows: a rule above a mailing list's footer.
func listFooterFollows(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+2; j++ {
		if !isBlank(lines[j]) {
			return isListFooter(lines, j)
		}
	}
	return false
}

// isRule: a divider line, "______" (Outlook), "------" (Outlook for Mac,
// Yahoo), "=====". "--" alone is the signature delimiter, not a rule.
func isRule(trimmed string) bool {
	if len(trimmed) > 200 {
		return false
	}
	// The runes first: most lines fail at the first one, and the count
	// (which read every rune of every line) is needed only for a rule.
	for _, r := range trimmed {
		if !strings.ContainsRune("-_=*~─━—", r) && r != ' ' {
			return false
		}
	}
	if utf8.RuneCountInString(trimmed) < 3 {
		return false
	}
	return strings.Trim(trimmed, "-_=*~─━— ") == "" && trimSpace(trimmed) != "--"
}

// isOutlookRule: the rules Outlook writes above the quoted message, a
// separator even when the header block under them is missing: 28 to 40
// underscores (32 in Outlook web and mobile), or Outlook for Mac's
// indented " ------------------------------ ". Other dashed rules, which
// people draw around tables, and wider rules of underscores, which people
// draw across the page between two parts of their text, count only above
// a header block (separatorFollows).
func isOutlookRule(line string) bool {
	t := trimSpace(line)
	if len(t) < 28 {
		return false
	}
	indented := line[0] == ' ' || line[0] == '\t'
	return (len(t) <= 40 && strings.Trim(t, "_") == "") || (indented && strings.Trim(t, "-") == "")
}

// separatorFollows: the first non-blank line at or after i (a few at
// most) starts the quoted message, so a rule above it is its separator.
func separatorFollows(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+3; j++ {
		t := trimSpace(lines[j])
		if t == "" || isInvisible(t) {
			continue
		}
		if isDeviceSignature(t) {
			continue // dropped anyway; what matters is below it
		}
		return isHeaderBlock(lines, j) || headsHeaderBlock(lines, j) || isOriginalMessage(t) || isForwardMarker(t)
	}
	return false
}

// headerClass returns the class (hFrom, hDate, hTo, hSubject) of a
// header line "Name: value" ("*From:*" from HTML, "De :" in French,
// "发件人：" in Chinese), or 0.
func headerClass(line string) int {
	if len(line) > 64 {
		line = line[:64] // the key is near the start; keep the scan constant
	}
	t := strings.TrimLeft(trimSpace(line), "*")
	colon := strings.IndexByte(t, ':')
	if c := strings.Index(t, "："); c >= 0 && (colon < 0 || c < colon) {
		colon = c
	}
	if colon <= 0 || colon > 32 {
		return 0
	}
	key := strings.ToLower(trimSpace(strings.Trim(t[:colon], "* \u00a0\t")))
	return headerClasses[key]
}

// isHeaderBlock: a header line at i and, in the lines right below it (up
// to two wrapped values skipped, up to the next blank line), header lines of at least
// three classes in all, one of them From: the head of a quoted or
// forwarded message (Outlook's From/Sent/To/Subject, Gmail's forward).
// Two lines do when one is a full date with a time and the other names
// the sender or the recipients ("Date: Wed, 16 May 2012 00:15:02 -0600 /
// To: x@y").
func isHeaderBlock(lines []string, i int) bool {
	classes := headerClass(lines[i])
	if classes == 0 {
		return false
	}
	if c := inlineHeaderClasses(lines[i]); c == hFrom|hDate|hTo|hSubject ||
		(((c&hDate != 0 && c&(hFrom|hTo) != 0) || (c&hFrom != 0 && bits.OnesCount(uint(c)) >= 3)) &&
			strings.Contains(lines[i], "@") && hasYear(lines[i]) && hasTime(lines[i])) {
		// A block that lost its line breaks: all four classes on one
		// line, or a full date with the sender's or the recipients'
		// address (as two lines do, below): under a "Date:" name or,
		// with three classes named, as a bare value ("Temat: ...
		// 2023-01-17 13:46Nadawca: x@y Adresat:").
		return true
	}
	dated := classes == hDate && fullDate(lines[i])
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
		dated = dated || (c == hDate && fullDate(lines[j]))
		if classes&hFrom != 0 && bits.OnesCount(uint(classes)) >= 3 {
			return true
		}
		if dated && classes&(hFrom|hTo) != 0 {
			return true
		}
	}
	return false
}

// inlineHeaderClasses returns the classes of the header names ("From:",
// "To:", "Subject:", "À :"...) a line holds anywhere, for a header block
// that lost its line breaks ("Date: Tue, 2 Oct 2012 02:35:10 +0000 From:
// x@y To: Smith, Shelly Subject: ..."). Only the first 400 bytes are
// read.
func inlineHeaderClasses(line string) int {
	if len(line) > 400 {
		line = line[:400]
	}
	if strings.Count(line, ":") < 3 {
		return 0
	}
	classes := 0
	words := strings.Fields(line)
	for k, w := range words {
		name := ""
		switch {
		case strings.HasSuffix(w, ":") && len(w) > 1:
			name = w[:len(w)-1]
		case k+1 < len(words) && words[k+1] == ":":
			name = w
		default:
			continue
		}
		// A value may run into the next name when the breaks went
		// ("2023-01-17 13:46Nadawca:"): the name is the word's letters
		// after its last digit or punctuation.
		name = strings.TrimLeftFunc(strings.Trim(name, "*"), func(r rune) bool { return !unicode.IsLetter(r) })
		classes |= headerClasses[strings.ToLower(name)]
	}
	return classes
}

// fullDate: a header line's value has a year and a time.
func fullDate(line string) bool {
	v := headerValue(line)
	return hasYear(v) && hasTime(v)
}

// turkishI: Go lowercases "İ" (Turkish capital dotted I) to "i" and a
// combining dot; the word lists spell it "i".
func turkishI(s string) string {
	return strings.ReplaceAll(s, "i\u0307", "i")
}
