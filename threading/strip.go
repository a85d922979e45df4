package threading

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Quote and signature stripping. A reply by email carries, besides the new
// text, the message it answers (quoted with ">" or after an attribution
// or header block) and a signature. Only the new text becomes the
// conversation message; the caller keeps the full original with it.
//
// The stripper splits off an attribution that ends the person's last
// line ("Thanks! On Mon, ... wrote:"), classifies every line (classify,
// strip_lines.go) and then decides in two steps:
//
//  1. It cuts (drops the line and everything after it) at the first of:
//     our own reply marker ("##- Please type your reply above this line
//     -##", ReplyMarkerPrefix) below some new text; Outlook's
//     "-----Original Message-----" in any of its languages; a header
//     block ("From: / Sent: / To: / Subject:" and their translations,
//     with the dated line or the rule above it); a mailing list's
//     footer; an attribution ("On <date>, <name> wrote:" in 20 languages,
//     wrapped over up to four lines, and the dated forms without a verb)
//     followed by unquoted text; a device signature ("Sent from my
//     iPhone") followed by more text; the "-- " signature delimiter. A
//     forward ("---------- Forwarded message ---------", "Begin
//     forwarded message:", a header block with a "FW:" subject) is no
//     cut: it and everything after it are kept.
//  2. Above the cut, it keeps the text and drops the trailing quote after
//     the last new line, the attribution lines, device signatures and
//     Gmail's tracker glyph. Of the quote blocks that new text follows,
//     one alone is the message answered (bottom-posting) and goes; two or
//     more are questions answered in turn and keep their outermost
//     level. A quote that holds our reply marker is our own notification
//     and is dropped wherever it is.
//
// When in doubt it keeps: a forward with no note above it is kept whole,
// and if nothing is left the input comes back unchanged: a message must
// never come out empty. Runs of blank lines left behind fold into one;
// where lines were dropped between two lines of text, none is left.

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
	input := lines
	lines, splits := splitTrailingAttributions(lines)
	keep, dropRest := decide(lines)
	for _, h := range splits {
		// A split stands only when it parts the person's text (kept)
		// from an attribution (dropped); otherwise the line is read whole.
		if !keep[h] || keep[h+1] {
			lines = input
			keep, dropRest = decide(lines)
			break
		}
	}
	kept, cuts, dropped, joined := joinKept(lines, keep, false, withQuoted)
	if joined {
		// Lines dropped between two kept lines of text leave no trace,
		// unless the two would then read as something else (an
		// attribution, a header block): then a paragraph break keeps
		// them apart, so stripping the result again changes nothing.
		if cutsAgain(kept) {
			kept, cuts, _, _ = joinKept(lines, keep, true, false)
			if cutsAgain(kept) {
				// Apart they read as something else too (a "From:" line
				// alone in its paragraph): when in doubt, keep. The lines
				// dropped between kept ones stay.
				keep = keepBetween(keep)
				kept, cuts, dropped, _ = joinKept(lines, keep, false, withQuoted)
			}
		}
	}
	if !hasText(kept) {
		if rest != "" || !hasText(lines) {
			return text, "", false
		}
		return strings.Join(foldBlank(input, make([]bool, len(input))), "\n"), "", false
	}
	out = strings.Join(foldBlank(kept, cuts), "\n")
	if rest == "" {
		// White space ending the text is nobody's word ("If that \n").
		out = strings.TrimRight(out, " \t\u00a0")
	}
	quoted = strings.Join(foldBlank(dropped, nil), "\n")
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

// cutsAgain: stripping lines again would drop some of them.
func cutsAgain(lines []string) bool {
	again, _ := decide(lines)
	for _, k := range again {
		if !k {
			return true
		}
	}
	return false
}

// keepBetween returns keep with every line between the first and the
// last kept one kept too.
func keepBetween(keep []bool) []bool {
	first, last := -1, -1
	for i, k := range keep {
		if k {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	out := append([]bool(nil), keep...)
	for i := max(first, 0); i <= last; i++ {
		out[i] = true
	}
	return out
}

// joinKept returns the kept lines and (withQuoted) the dropped ones.
// Where non-blank lines were dropped between two kept lines of text,
// gaps puts a blank line; joined reports whether that happened without
// one. cuts[k] tells that lines were dropped between kept[k] and the kept
// line of text before it: the blank run there is folded (foldBlank).
func joinKept(lines []string, keep []bool, gaps, withQuoted bool) (kept []string, cuts []bool, dropped []string, joined bool) {
	kept, cuts, dropped = make([]string, 0, len(lines)), make([]bool, 0, len(lines)), make([]string, 0, 16)
	gap, cut := false, false
	for i, l := range lines {
		if !keep[i] {
			if withQuoted {
				dropped = append(dropped, l)
			}
			gap = gap || trimSpace(l) != ""
			cut = true
			continue
		}
		if gap && !isQuoted(l) && len(kept) > 0 && !isBlank(l) && !isBlank(kept[len(kept)-1]) && !isQuoted(kept[len(kept)-1]) {
			if gaps {
				kept, cuts = append(kept, ""), append(cuts, true)
			} else {
				joined = true
			}
		}
		gap = false
		kept, cuts = append(kept, l), append(cuts, cut)
		if !isBlank(l) {
			cut = false
		}
	}
	return kept, cuts, dropped, joined
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
	return decideDepth(lines, 0)
}

// maxForwardDepth bounds how many forwards inside forwards have their
// own history stripped; deeper ones are kept whole.
const maxForwardDepth = 3

func decideDepth(lines []string, depth int) (keep []bool, dropRest bool) {
	kinds, cut, keepFrom := classify(lines)
	keep = make([]bool, len(lines))
	last := -1 // the last line of new text
	for i := 0; i < min(cut, keepFrom); i++ {
		if kinds[i] == kText {
			last = i
		}
	}
	// The quote blocks that new text follows. One alone is the message
	// answered, the answer written below it (bottom-posting): it goes.
	// Several, each followed by text, are questions answered in turn:
	// they stay.
	type block struct{ from, to int }
	var blocks []block
	for i := 0; i <= last; {
		if kinds[i] != kQuote {
			i++
			continue
		}
		j := i
		for j <= last && (kinds[j] == kQuote || kinds[j] == kBlank || kinds[j] == kAttrib || kinds[j] == kMark) {
			j++
		}
		blocks = append(blocks, block{i, j})
		i = j
	}
	for i := 0; i <= last; i++ {
		switch kinds[i] {
		case kText, kBlank, kRule:
			keep[i] = true
		}
	}
	// Only blocks that keep a line count: a block of nothing but an
	// attribution and older quotes leaves nothing to answer.
	kept, from := 0, 0
	for _, b := range blocks {
		keepQuoteBlock(lines, kinds, keep, b.from, b.to)
		for k := b.from; k < b.to; k++ {
			if keep[k] && kinds[k] == kQuote {
				kept, from = kept+1, b.from
				break
			}
		}
	}
	if kept == 0 || (kept == 1 && !introduced(lines, kinds, from)) {
		for _, b := range blocks {
			// The block goes with its attribution and the blank lines
			// between them, so no blank is left where it was.
			from := b.from
			for k := from - 1; k >= 0 && kinds[k] != kText && kinds[k] != kRule; k-- {
				if kinds[k] != kBlank {
					from = k
				}
			}
			for k := from; k < b.to; k++ {
				keep[k] = false
			}
		}
	}
	if keepFrom < len(lines) {
		for i := last + 1; i < len(lines); i++ {
			keep[i] = i >= keepFrom || kinds[i] == kBlank
		}
		keepForwarded(lines, keep, keepFrom, depth)
		return keep, false
	}
	lastLine := len(lines) - 1
	for lastLine >= 0 && kinds[lastLine] == kBlank {
		lastLine--
	}
	return keep, cut < len(lines) || last < lastLine
}

// keepForwarded marks, in the forward starting at line from, what of the
// forwarded email stays: its head (the marker, the rule, the header
// block) and its text, read as any email is: the forwarded email's own
// quoted history and device signature below its text go, its inline
// answers and any forward inside it stay. If its text would keep
// nothing, all of it stays.
func keepForwarded(lines []string, keep []bool, from, depth int) {
	if depth >= maxForwardDepth {
		return
	}
	body := forwardBody(lines, from)
	if body >= len(lines) {
		return
	}
	sub, _ := decideDepth(lines[body:], depth+1)
	for k, kept := range sub {
		if kept && !isBlank(lines[body+k]) {
			copy(keep[body:], sub)
			return
		}
	}
}

// forwardBody returns where the text of the forwarded email starting at
// line from begins: after its head, the blank line that ends its header
// block (a marker or a rule may stand above the block, a blank line
// between them). len(lines) when no header block is found near from.
func forwardBody(lines []string, from int) int {
	header := false
	for j := from; j < len(lines) && j < from+20; j++ {
		if isBlank(lines[j]) {
			if header {
				return j
			}
			continue
		}
		if headerClass(lines[j]) != 0 {
			header = true
		}
	}
	return len(lines)
}

// introduced: the quote block at from follows the person's own line
// ending in a colon ("As I wrote:"): the quote is part of their text.
func introduced(lines []string, kinds []int, from int) bool {
	k := from - 1
	for k >= 0 && kinds[k] == kBlank {
		k--
	}
	return k >= 0 && kinds[k] == kText && strings.HasSuffix(trimSpace(lines[k]), ":")
}

// keepQuoteBlock marks which lines of the quote block lines[i:j] (new
// text follows it) to keep: the quoted lines at its outermost level, but
// not the attribution of the quoted message nor the older messages quoted
// inside it (deeper levels). A block that holds our reply marker is our
// notification, answered below as a whole: all of it goes.
func keepQuoteBlock(lines []string, kinds []int, keep []bool, i, j int) {
	minLevel := -1
	for k := i; k < j; k++ {
		if kinds[k] != kQuote || !isQuoted(lines[k]) {
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
		if !isQuoted(lines[k]) {
			// A line that lost its ">" goes with the line it continues.
			keep[k] = k > i && keep[k-1]
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
			if _, next := unquote(lines[k+1]); !endsSentence(lower) && isAttribution(lower+" "+strings.ToLower(next)) &&
				!isAttribution(strings.ToLower(next)) {
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
	return level, trimSpace(t)
}

// classify gives every line its kind and finds the cut (len(lines) when
// there is none) and where a forwarded message starts (keepFrom, kept
// with everything after it; len(lines) when there is none).
func classify(lines []string) (kinds []int, cut, keepFrom int) {
	kinds = make([]int, len(lines))
	n := len(lines)
	seenText := false
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := trimSpace(line)
		switch {
		case trimmed == "" || isInvisible(trimmed):
			kinds[i] = kBlank
			continue
		case isQuoted(line):
			kinds[i] = kQuote
			continue
		case i > 0 && kinds[i-1] == kQuote && (lostQuoteMark(lines, i) || echoesQuote(lines, kinds, i)):
			kinds[i] = kQuote
			continue
		}
		if isReplyMarker(trimmed) {
			if seenText {
				return kinds, i, n
			}
			kinds[i] = kMark
			continue
		}
		headers := isHeaderBlock(lines, i)
		if isForwardMarker(trimmed) || (headers && forwardSubject(lines, i)) {
			return kinds, n, i
		}
		if headers || isOriginalMessage(trimmed) || (seenText && (headsHeaderBlock(lines, i) || loneFrom(lines, i))) {
			if headers && i > 0 && kinds[i-1] == kText && colonlessAttribution(lines[i-1]) {
				// "Am <date> schrieb <name>" right above the header block
				// it introduces, its colon lost: it goes with the block.
				return kinds, i - 1, n
			}
			return kinds, i, n
		}
		if isRule(trimmed) {
			if forwardFollows(lines, i+1) {
				return kinds, n, i
			}
			if seenText && (isOutlookRule(line) || listFooterFollows(lines, i+1)) {
				return kinds, i, n
			}
			if separatorFollows(lines, i+1) {
				return kinds, i, n
			}
			kinds[i] = kRule
			continue
		}
		if seenText && isListFooter(lines, i) {
			if i > 0 && isShortRule(lines[i-1]) {
				// "__" above the list's name: the rest of its rule, which
				// some list software (or a re-wrap) shortens.
				return kinds, i - 1, n
			}
			return kinds, i, n
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
			if seenText {
				return kinds, i, len(lines)
			}
		}
		if seenText && isInlineAttribution(trimmed) {
			return kinds, i, n
		}
		if isSigDelimiter(line) {
			if seenText {
				if onlyBlankAfter(lines, i+1) {
					kinds[i] = kMark
					continue
				}
				return kinds, i, n
			}
			kinds[i] = kRule
			continue
		}
		if isDeviceSignature(trimmed) && standsAlone(lines, i) {
			// What follows a device signature is the message answered,
			// quoted or not; only a forward after it is kept.
			if seenText && !nextIsQuoted(lines, i+1) && !onlyBlankAfter(lines, i+1) && !forwardFollows(lines, i+1) {
				return kinds, i, n
			}
			kinds[i] = kMark
			continue
		}
		kinds[i] = kText
		seenText = true
	}
	return kinds, n, n
}

// isQuoted: ">" after optional blanks. Some clients indent quotes. A
// line framed by arrows both ways (">>> www.example.com <<<") is a
// banner the person's text (or a newsletter) draws, not a quote.
func isQuoted(line string) bool {
	if line != "" && line[0] == '>' {
		// The common case, kept small enough to inline.
		if c := line[len(line)-1]; c != '<' && c != ' ' && c != '\t' && c != '\r' {
			return true
		}
	}
	return isQuotedSlow(line)
}

func isQuotedSlow(line string) bool {
	t := line
	if t == "" || t[0] != '>' {
		if t == "" || t[0] != ' ' && t[0] != '\t' {
			return false // no blank to trim, no ">" (strings.TrimLeft would build its set first)
		}
		t = strings.TrimLeft(line, " \t")
		if !strings.HasPrefix(t, ">") {
			return false
		}
	}
	return !isArrowBanner(t)
}

// isArrowBanner: t (starting with ">") starts with two or more ">" and
// ends with two or more "<", blanks aside.
func isArrowBanner(t string) bool {
	e := len(t)
	for e > 0 && (t[e-1] == ' ' || t[e-1] == '\t' || t[e-1] == '\r') {
		e--
	}
	if e < 4 || t[e-1] != '<' || t[e-2] != '<' {
		return false
	}
	return strings.HasPrefix(strings.ReplaceAll(t[:min(len(t), 16)], " ", ""), ">>")
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
		if t := trimSpace(l); t != "" && !isInvisible(t) {
			return true
		}
	}
	return false
}

// foldBlank trims blank lines at both ends and folds into one the inner
// runs where lines were dropped (cuts[k] true at the line of text after
// the run; cuts nil: every run). The person's own runs of blank lines between
// two paragraphs stay as they wrote them, white space on them cut.
func foldBlank(lines []string, cuts []bool) []string {
	out := lines[:0:0]
	run := 0
	for k, l := range lines {
		if t := trimSpace(l); t == "" || isInvisible(t) {
			if len(out) > 0 {
				run++
			}
			continue
		}
		if run > 0 {
			if cuts == nil || cuts[k] {
				run = 1
			}
			for ; run > 0; run-- {
				out = append(out, "")
			}
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
		if t := trimSpace(lines[j]); t == "" || isInvisible(t) {
			continue
		}
		if isQuoted(lines[j]) {
			return true
		}
		if depth < 2 {
			if n := attributionLines(lines, j); n > 0 {
				return quoteFollows(lines, j+n, depth+1)
			}
			if t := trimSpace(lines[j]); nameWrote(t) || isDeviceSignature(t) || isInvisible(t) {
				return quoteFollows(lines, j+1, depth+1)
			}
		}
		return false
	}
	return false
}

func onlyBlankAfter(lines []string, i int) bool {
	for j := i; j < len(lines); j++ {
		if t := trimSpace(lines[j]); t != "" && !isInvisible(t) {
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
	n := trimSpace(lines[i+1])
	if isBareLink(n) { // "Sent from TypeApp" / "<https://...>"
		if i+2 >= len(lines) {
			return true
		}
		i, n = i+1, trimSpace(lines[i+2])
	}
	return n == "" || isInvisible(n) || isDeviceSignature(n) || isSigDelimiter(n) || startsOld(lines, i+1)
}

// startsOld: line j starts what is not new text: a quote, a rule, our
// marker, a quoted or forwarded message's head.
func startsOld(lines []string, j int) bool {
	t := trimSpace(lines[j])
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

// lostQuoteMark: line i (unquoted, right below a quoted line) is part of
// the quote that lost its ">" when a client wrapped it: a quoted line goes
// on right below it, and it continues the line above: the rest of a
// wrapped link (one word after a line ending in a link), or the rest of a
// long sentence (a long line with no end mark above, a lower-case start,
// three words at least, or fewer when the line above ends inside a word
// or sentence). A short answer between two questions ("> Monday?
// / Yes. / > Tuesday?") is none of these and stays text.
func lostQuoteMark(lines []string, i int) bool {
	cur := trimSpace(lines[i])
	link := strings.TrimRight(cur, "> ")
	oneWord := strings.IndexByte(link, ' ') < 0 && strings.IndexByte(link, '\t') < 0
	if (!oneWord && len(lines[i-1]) < 60) || i+1 >= len(lines) || !isQuoted(lines[i+1]) {
		return false
	}
	if oneWord {
		// One word: the rest of a link, or a link alone ("(http://...) >").
		if isBareLink(link) {
			return true
		}
		_, prev := unquote(lines[i-1])
		lastWord := prev[strings.LastIndexAny(prev, " \t")+1:]
		if strings.Contains(lastWord, "://") || strings.HasPrefix(lastWord, "www.") {
			return true
		}
	}
	if len(lines[i-1]) < 60 {
		return false
	}
	_, prev := unquote(lines[i-1])
	if utf8.RuneCountInString(prev) < 60 || endsSentence(prev) || strings.HasSuffix(prev, ";") {
		return false
	}
	r, _ := utf8.DecodeRuneInString(cur)
	if !unicode.IsLower(r) {
		return false
	}
	// Three words at least, or fewer when the line above broke inside a
	// word or a sentence ("... Nullam pharetra d" / "ignissim odio?"):
	// nobody answers in the middle of the sentence they quote.
	return strings.Count(cur, " ") >= 2 || endsInWord(prev)
}

// maxEchoScan and maxEchoBytes bound how far above echoesQuote reads
// the quote: 200 lines, 8 KiB of them.
const (
	maxEchoScan  = 200
	maxEchoBytes = 8 << 10
)

// echoesQuote: line i (unquoted, between two quoted lines) repeats, word
// for word, a run of the quote it sits in: a piece of the quoted message
// that lost its ">" ("> ... rhoncus tortor in" then, lower, a bare
// "rhoncus tortor in." and "> ..." again). It starts lower-case, has
// three words at least, and all of it (but a closing mark) is in one
// quoted line above in the same block, not the one right above it. An
// answer says something the quote does not ("> Does it crash? / still
// crashes, yes / > ..."), or picks words from the question it answers,
// right above it ("> The blue one or the red one? / the red one").
func echoesQuote(lines []string, kinds []int, i int) bool {
	if i+1 >= len(lines) || !isQuoted(lines[i+1]) || !isQuoted(lines[i-1]) {
		return false
	}
	if _, above := unquote(lines[i-1]); strings.HasSuffix(above, "?") || strings.HasSuffix(above, "？") {
		return false // a question right above: this answers it
	}
	cur := strings.TrimRight(trimSpace(lines[i]), ".!?,;:")
	if len(cur) > 200 || strings.Count(cur, " ") < 2 {
		return false
	}
	if r, _ := utf8.DecodeRuneInString(cur); !unicode.IsLower(r) {
		return false
	}
	budget := maxEchoBytes
	for j := i - 2; j >= 0 && j >= i-maxEchoScan && kinds[j] == kQuote && budget > 0; j-- {
		budget -= len(lines[j])
		if !isQuoted(lines[j]) {
			continue
		}
		if _, c := unquote(lines[j]); len(c) >= len(cur) && strings.Contains(c, cur) {
			return true
		}
	}
	return false
}

// colonlessAttribution: line reads as an attribution once a colon ends
// it ("Am 20.06.24 um 16:20 schrieb Some Shop"): it starts with an
// attribution's start word and has a reply verb and a date, and no end
// mark closes it (the person's "Am 3.5. schrieb ich Ihnen schon." stays).
func colonlessAttribution(line string) bool {
	t := strings.ToLower(trimSpace(line))
	if len(t) > maxAttribution || endsSentence(t) || !startsLikeAttribution(t) || lastVerb(t) < 0 {
		return false
	}
	return isAttribution(t + ":")
}

// endsInWord: s ends with a letter or a digit (no punctuation closes it).
func endsInWord(s string) bool {
	r, _ := utf8.DecodeLastRuneInString(s)
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}
