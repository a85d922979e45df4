package threading

import (
	"strings"
)

// Quote and signature stripping. A reply by email carries, besides the new
// text, the message it answers (quoted with ">" or after an attribution
// or header block) and a signature. Only the new text becomes the
// conversation message; the caller keeps the full original with it.
//
// The stripper classifies every line (classify, strip_lines.go) and then
// decides in two steps:
//
//  1. It cuts (drops the line and everything after it) at the first of:
//     our own reply marker ("##- Please type your reply above this line
//     -##", ReplyMarkerPrefix) below some new text; a forwarded message's
//     head ("---------- Forwarded message ---------", "Begin forwarded
//     message:") below some new text; Outlook's "-----Original
//     Message-----" in any of its languages; a header block ("From: /
//     Sent: / To: / Subject:" and their translations), also after a line
//     of underscores or dashes; an attribution ("On <date>, <name>
//     wrote:" in 19 languages, wrapped over up to three lines) followed
//     by unquoted text; the "-- " signature delimiter.
//  2. Above the cut, it keeps the text and every quote that new text
//     follows, so inline answers keep the questions they answer, and
//     drops the trailing quote after the last new line, the attribution
//     lines, device signatures ("Sent from my iPhone", "Von meinem iPhone
//     gesendet", ...) and Gmail's tracker glyph. A quote that holds our
//     reply marker is our own notification and is dropped wherever it is.
//
// When in doubt it keeps: a forward with no note above it is kept whole,
// and if nothing is left the input comes back unchanged: a message must
// never come out empty. Runs of blank lines left behind fold into one.

// MaxStripInput is how much of a body StripText examines: 256 KiB, far
// more than anyone types. Text beyond it follows the state at the cap:
// dropped when the scan cut or ended in dropped lines, kept as is
// otherwise. The scan is linear in the input: every look-ahead is bounded
// by a constant number of lines.
const MaxStripInput = 256 << 10

// StripText returns the new text of a plain-text email body, lines
// separated by "\n".
func StripText(text string) string {
	out, _, _ := splitText(text, false)
	return out
}

// SplitText returns the new text of a plain-text body, as StripText, and
// what was removed (the quotes, attributions, signatures and everything
// after a cut), blank runs folded. quoted is "" when nothing was removed.
func SplitText(text string) (newText, quoted string) {
	newText, quoted, _ = splitText(text, true)
	return newText, quoted
}

// splitText is SplitText (quoted only withQuoted); ok is false when it
// fell back to the input.
func splitText(text string, withQuoted bool) (out, quoted string, ok bool) {
	scan, rest := text, ""
	if len(text) > MaxStripInput {
		cut := strings.LastIndexByte(text[:MaxStripInput], '\n')
		if cut < 0 {
			return text, "", false
		}
		scan, rest = text[:cut+1], text[cut+1:]
	}
	lines := strings.Split(scan, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, "\r")
	}
	keep, dropRest := decide(lines)
	kept, dropped := make([]string, 0, len(lines)), make([]string, 0, 16)
	gap := false
	for i, l := range lines {
		if !keep[i] {
			if withQuoted {
				dropped = append(dropped, l)
			}
			gap = gap || strings.TrimSpace(l) != ""
			continue
		}
		// Lines dropped between kept lines of text leave a paragraph
		// break, so these never join into an attribution or a header
		// block when the result is read again.
		if gap && !isQuoted(l) && len(kept) > 0 && !isQuoted(kept[len(kept)-1]) {
			kept = append(kept, "")
		}
		gap = false
		kept = append(kept, l)
	}
	if !hasText(kept) {
		if rest != "" || !hasText(lines) {
			return text, "", false
		}
		return strings.Join(foldBlank(lines), "\n"), "", false
	}
	out = strings.Join(foldBlank(kept), "\n")
	quoted = strings.Join(foldBlank(dropped), "\n")
	if rest != "" {
		if dropRest {
			if withQuoted {
				quoted += "\n" + rest
			}
		} else {
			out += "\n" + rest
		}
	}
	return out, quoted, true
}

// Line kinds.
const (
	kText   = iota
	kBlank  // empty or white space
	kQuote  // starts with ">"
	kAttrib // an attribution followed by a quote: dropped
	kMark   // device signature, tracker glyph, reply marker: dropped
	kRule   // a divider ("__________", "--"): kept only inside the text
)

// decide returns which lines to keep, and whether text after the lines
// (beyond MaxStripInput) is to be dropped too.
func decide(lines []string) (keep []bool, dropRest bool) {
	kinds, cut, whole := classify(lines)
	keep = make([]bool, len(lines))
	if whole {
		for i := range keep {
			keep[i] = true
		}
		return keep, false
	}
	last := -1 // the last line of new text
	for i := 0; i < cut; i++ {
		if kinds[i] == kText {
			last = i
		}
	}
	for i := 0; i <= last; {
		switch kinds[i] {
		case kText, kBlank, kRule:
			keep[i] = true
			i++
		case kQuote:
			// A quote block (blank lines inside it included) that new
			// text follows: kept, unless it holds our reply marker.
			j := i
			for j <= last && (kinds[j] == kQuote || kinds[j] == kBlank || kinds[j] == kAttrib || kinds[j] == kMark) {
				j++
			}
			keepQuoteBlock(lines, kinds, keep, i, j)
			i = j
		default:
			i++
		}
	}
	lastLine := len(lines) - 1
	for lastLine >= 0 && kinds[lastLine] == kBlank {
		lastLine--
	}
	return keep, cut < len(lines) || last < lastLine
}

// keepQuoteBlock marks which lines of the quote block lines[i:j] (new
// text follows it) to keep: the quoted lines at its outermost level, but
// not the attribution of the quoted message nor the older messages quoted
// inside it (deeper levels). A block that holds our reply marker is our
// notification, answered below as a whole: all of it goes.
func keepQuoteBlock(lines []string, kinds []int, keep []bool, i, j int) {
	minLevel := -1
	for k := i; k < j; k++ {
		if kinds[k] != kQuote {
			continue
		}
		level, content := unquote(lines[k])
		if isReplyMarker(content) {
			return
		}
		if minLevel < 0 || level < minLevel {
			minLevel = level
		}
	}
	for k := i; k < j; k++ {
		if kinds[k] != kQuote {
			keep[k] = kinds[k] == kBlank
			continue
		}
		level, content := unquote(lines[k])
		if level > minLevel {
			continue
		}
		lower := strings.ToLower(content)
		if isAttribution(lower) {
			continue
		}
		if k+1 < j && kinds[k+1] == kQuote {
			if _, next := unquote(lines[k+1]); !endsSentence(lower) && isAttribution(lower+" "+strings.ToLower(next)) {
				keep[k+1] = false
				k++
				continue
			}
		}
		keep[k] = true
	}
	// An empty ">" line only separates kept quoted lines.
	for _, step := range []int{1, -1} {
		k, end := i, j
		if step < 0 {
			k, end = j-1, i-1
		}
		for ; k != end; k += step {
			if kinds[k] != kQuote || !keep[k] {
				continue
			}
			if _, c := unquote(lines[k]); c != "" {
				break
			}
			keep[k] = false
		}
	}
}

// unquote returns the quote level of a line (">> x" is 2) and its text.
func unquote(line string) (level int, content string) {
	t := strings.TrimLeft(line, " \t")
	for len(t) > 0 && (t[0] == '>' || t[0] == ' ') {
		if t[0] == '>' {
			level++
		}
		t = t[1:]
	}
	return level, strings.TrimSpace(t)
}

// classify gives every line its kind and finds the cut (len(lines) when
// there is none). whole reports a forward with no note: keep everything.
func classify(lines []string) (kinds []int, cut int, whole bool) {
	kinds = make([]int, len(lines))
	seenText := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || isInvisible(trimmed):
			kinds[i] = kBlank
			continue
		case isQuoted(line):
			kinds[i] = kQuote
			continue
		}
		if isReplyMarker(trimmed) {
			if seenText {
				return kinds, i, false
			}
			kinds[i] = kMark
			continue
		}
		if isForwardMarker(trimmed) {
			if seenText {
				return kinds, i, false
			}
			return kinds, len(lines), true
		}
		if isOriginalMessage(trimmed) || isHeaderBlock(lines, i) {
			return kinds, i, false
		}
		if isRule(trimmed) {
			if seenText && isOutlookRule(line) {
				return kinds, i, false
			}
			if separatorFollows(lines, i+1) {
				if !seenText && forwardFollows(lines, i+1) {
					return kinds, len(lines), true
				}
				return kinds, i, false
			}
			kinds[i] = kRule
			continue
		}
		if nameWrote(trimmed) && nextIsQuoted(lines, i+1) {
			kinds[i] = kAttrib
			continue
		}
		if n := attributionLines(lines, i); n > 0 {
			if nextIsQuoted(lines, i+n) {
				for k := i; k < i+n; k++ {
					kinds[k] = kAttrib
				}
				i += n - 1
				continue
			}
			if seenText && strongAttribution(lines, i, n) {
				return kinds, i, false
			}
		}
		if seenText && isInlineAttribution(trimmed) {
			return kinds, i, false
		}
		if isSigDelimiter(line) {
			if seenText {
				if onlyBlankAfter(lines, i+1) {
					kinds[i] = kMark
					continue
				}
				return kinds, i, false
			}
			kinds[i] = kRule
			continue
		}
		if isDeviceSignature(trimmed) && standsAlone(lines, i) {
			kinds[i] = kMark
			continue
		}
		kinds[i] = kText
		seenText = true
	}
	return kinds, len(lines), false
}

// isQuoted: ">" after optional blanks. Some clients indent quotes.
func isQuoted(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), ">")
}

// isInvisible: Gmail's tracker glyph U+1427 "ᐧ", zero-width characters
// and non-breaking spaces alone on a line count as a blank line.
func isInvisible(trimmed string) bool {
	for _, r := range trimmed {
		switch r {
		case '\u1427', '\u200b', '\u200c', '\u200d', '\ufeff', '\u00a0', '\u2060':
		default:
			return false
		}
	}
	return true
}

func hasText(lines []string) bool {
	for _, l := range lines {
		if t := strings.TrimSpace(l); t != "" && !isInvisible(t) {
			return true
		}
	}
	return false
}

// foldBlank trims blank lines at both ends and folds inner runs into one.
func foldBlank(lines []string) []string {
	out := lines[:0:0]
	blank := false
	for _, l := range lines {
		if t := strings.TrimSpace(l); t == "" || isInvisible(t) {
			blank = len(out) > 0
			continue
		}
		if blank {
			out = append(out, "")
			blank = false
		}
		out = append(out, l)
	}
	return out
}

func isReplyMarker(trimmed string) bool {
	if strings.HasPrefix(trimmed, ReplyMarkerPrefix) {
		return true
	}
	// The phrases catch a marker whose "##-" a client mangled; some '#'
	// is always left, which spares the phrase search on every line.
	if len(trimmed) > 160 || len(trimmed) < 15 || !strings.Contains(trimmed, "#") {
		return false
	}
	lower := strings.ToLower(trimmed)
	for _, p := range replyMarkerPhrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}

// maxBlankRun bounds the look-ahead over blank lines, keeping the scan
// linear; a longer run is not folded away by the stripper either.
const maxBlankRun = 64

// nextIsQuoted looks at the first non-blank line at or after i, at most a
// few lines ahead; another attribution there is stepped over (a client
// that stacks two), so dropping one never turns the other into text.
func nextIsQuoted(lines []string, i int) bool {
	return quoteFollows(lines, i, 0)
}

func quoteFollows(lines []string, i, depth int) bool {
	for j := i; j < len(lines) && j < i+maxBlankRun; j++ {
		if t := strings.TrimSpace(lines[j]); t == "" || isInvisible(t) {
			continue
		}
		if isQuoted(lines[j]) {
			return true
		}
		if depth < 2 {
			if n := attributionLines(lines, j); n > 0 {
				return quoteFollows(lines, j+n, depth+1)
			}
			if t := strings.TrimSpace(lines[j]); nameWrote(t) || isDeviceSignature(t) || isInvisible(t) {
				return quoteFollows(lines, j+1, depth+1)
			}
		}
		return false
	}
	return false
}

func onlyBlankAfter(lines []string, i int) bool {
	for j := i; j < len(lines); j++ {
		if t := strings.TrimSpace(lines[j]); t != "" && !isInvisible(t) {
			return false
		}
	}
	return true
}

// standsAlone: a device signature ends its paragraph (a blank line, a
// quote or the quoted message's head follows), so "Sent from my laptop"
// going on into a sentence stays.
func standsAlone(lines []string, i int) bool {
	if i+1 >= len(lines) {
		return true
	}
	n := strings.TrimSpace(lines[i+1])
	return n == "" || isInvisible(n) || isDeviceSignature(n) || isSigDelimiter(n) || startsOld(lines, i+1)
}

// startsOld: line j starts what is not new text: a quote, a rule, our
// marker, a quoted or forwarded message's head.
func startsOld(lines []string, j int) bool {
	t := strings.TrimSpace(lines[j])
	return isQuoted(lines[j]) || isRule(t) || isReplyMarker(t) || isOriginalMessage(t) || isForwardMarker(t) ||
		isHeaderBlock(lines, j) || attributionLines(lines, j) > 0 || isInlineAttribution(t) || nameWrote(t)
}

// HasReplyMarker tells whether body (a template's text or HTML part)
// carries our reply marker: its prefix, or its text in one of the
// languages the stripper knows.
func HasReplyMarker(body string) bool {
	if strings.Contains(body, ReplyMarkerPrefix) {
		return true
	}
	lower := strings.ToLower(body)
	for _, p := range replyMarkerPhrases {
		if strings.Contains(lower, p) {
			return true
		}
	}
	return false
}
