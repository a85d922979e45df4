package threading

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Attributions, the line (or lines) a client writes above the message it
// quotes: "On <date>, <name> wrote:" and its kin. Separators and header
// blocks are in strip_separators.go, what clients append below the text
// in strip_signature.go. Each looks at most a few lines ahead.

// maxAttribution bounds the length of an attribution (all its lines).
const maxAttribution = 400

// attributionLines returns how many lines (1 to 4) starting at i form an
// attribution, or 0. Clients wrap long ones ("On Mon, ... John Doe <\n
// john@example.com> wrote:", Outlook's "<\nmailto:...>"); a match that
// a later line makes on its own starts at that line instead, so the text
// above an attribution is never taken for part of it.
func attributionLines(lines []string, i int) int {
	first := trimSpace(lines[i])
	if first == "" || len(first) > maxAttribution || isQuoted(lines[i]) {
		return 0
	}
	if isDateNameLine(first) || isPostedBy(first) {
		return 1
	}
	if !mayEndAttribution(lines, i) {
		return 0
	}
	parts := []string{strings.ToLower(first)}
	size := len(first)
	for n := 1; n <= 4 && i+n <= len(lines); n++ {
		if n > 1 {
			next := trimSpace(lines[i+n-1])
			if next == "" || isInvisible(next) || (isQuoted(lines[i+n-1]) && !closesAddress(next)) {
				return 0
			}
			if size += len(next) + 1; size > maxAttribution {
				return 0
			}
			parts = append(parts, strings.ToLower(next))
		}
		if !isAttribution(joinAttribution(parts)) {
			continue
		}
		for k := 1; k < n; k++ {
			// A continuation is an address, a time or a verb; a line with
			// its own start word, or after a finished sentence, starts an
			// attribution of its own.
			own := startsLikeAttribution(parts[k]) || endsSentence(parts[k-1]) || wordsOnly(parts[k-1], parts[k])
			if own && isAttribution(strings.Join(parts[k:], " ")) {
				return 0
			}
		}
		return n
	}
	return 0
}

// wordsOnly: prev, the line above a dated line that makes an
// attribution alone, carries none of an attribution's parts (no start
// word, digit, address or verb): a sign-off or a name the person typed
// ("Freundliche Grüße" above "shop schrieb am Do. 20. Juni 2024 um
// 14:49:"), not the attribution's head.
func wordsOnly(prev, next string) bool {
	if !hasYear(next) && !hasTime(next) {
		return false
	}
	return !startsLikeAttribution(prev) && !strings.ContainsAny(prev, "0123456789@<>") && lastVerb(prev) < 0
}

// joinAttribution joins the lines of a wrapped attribution with a space.
// A body left in quoted-printable (a client or a list that did not
// decode it) wraps with a soft break, "=" ending the line, and spells
// "é" "=C3=A9": the lines join without the "=" and the escapes are read,
// so "Le mer. ... <x@y.com=" / "> a =C3=A9crit :" is the attribution it
// reads as once decoded.
func joinAttribution(parts []string) string {
	j := strings.Join(parts, " ")
	if !strings.Contains(j, "=") {
		return j
	}
	var b strings.Builder
	for k, p := range parts {
		if k > 0 {
			if strings.HasSuffix(parts[k-1], "=") {
				p = strings.TrimPrefix(p, ">")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(strings.TrimSuffix(p, "="))
	}
	return decodeQPEscapes(b.String())
}

// decodeQPEscapes reads the "=XX" escapes of quoted-printable in s (hex
// digits in either case); s comes back as is when the result is not
// UTF-8.
func decodeQPEscapes(s string) string {
	if !strings.Contains(s, "=") {
		return s
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '=' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			out = append(out, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		out = append(out, s[i])
	}
	if !utf8.Valid(out) {
		return s
	}
	return string(out)
}

func isHex(c byte) bool {
	return isDigit(c) || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

// closesAddress: "> wrote:", the end of an address wrapped after its
// "<" (the ">" then starts the line, and looks like a quote).
func closesAddress(t string) bool {
	rest := trimSpace(t[1:])
	return len(rest) <= 24 && len(rest) > 1 && !strings.HasPrefix(rest, ">") &&
		(strings.HasSuffix(rest, ":") || strings.HasSuffix(rest, "："))
}

// mayEndAttribution is a cheap test before attributionLines builds
// anything: one of lines i..i+3 (before a blank one) ends with a colon,
// a reply verb or an address in angle brackets, or line i starts with
// dashes (Zoho's "---- On ... wrote ----").
func mayEndAttribution(lines []string, i int) bool {
	first := trimSpace(lines[i])
	if strings.HasPrefix(first, "--") {
		return true
	}
	end := i + 4
	if len(first) < 8 {
		end = i + 1 // too short to start a wrapped attribution
	}
	for j := i; j < len(lines) && j < end; j++ {
		t := trimRightBlank(lines[j])
		if strings.HasSuffix(t, ":") || strings.HasSuffix(t, "：") || endsWithVerb(t) ||
			(strings.HasSuffix(t, ">") && strings.Contains(t, "@")) {
			return true
		}
		if t == "" {
			return false
		}
	}
	return false
}

// trimRightBlank is strings.TrimRight(t, " \t"), without the cut set.
func trimRightBlank(t string) string {
	for len(t) > 0 && (t[len(t)-1] == ' ' || t[len(t)-1] == '\t') {
		t = t[:len(t)-1]
	}
	return t
}

// endsWithVerb: t ends with a reply verb ("... wrote" without its colon).
func endsWithVerb(t string) bool {
	if len(t) < 8 {
		return false
	}
	r, _ := utf8.DecodeLastRuneInString(t)
	if !verbLastRunes.has(unicode.ToLower(r)) {
		return false
	}
	for _, v := range replyVerbs {
		if len(t) >= len(v) && strings.EqualFold(t[len(t)-len(v):], v) {
			return true
		}
	}
	return false
}

// verbLastRunes are the last letters of the replyVerbs.
var verbLastRunes = runeSet(replyVerbs, utf8.DecodeLastRuneInString)

// runeSet is the set of the runes pick takes from each of words (their
// first or their last).
func runeSet(words []string, pick func(string) (rune, int)) *runes {
	rs := &runes{other: map[rune]bool{}}
	for _, w := range words {
		r, _ := pick(w)
		if r < utf8.RuneSelf {
			rs.ascii[r] = true
		} else {
			rs.other[r] = true
		}
	}
	return rs
}

// runes is a set of runes, the ASCII ones in a table: the stripper asks it
// about the first or last letter of most lines, where a map's lookup cost
// 130 instructions.
type runes struct {
	ascii [utf8.RuneSelf]bool
	other map[rune]bool
}

func (rs *runes) has(r rune) bool {
	if 0 <= r && r < utf8.RuneSelf {
		return rs.ascii[r]
	}
	return rs.other[r]
}

// isPostedBy: a forum's "Posted by <name> on 01/21/2026" above the post.
func isPostedBy(t string) bool {
	if len(t) > 120 || len(t) < 20 || (t[0] != 'P' && t[0] != 'p') || !strings.EqualFold(t[:10], "posted by ") {
		return false
	}
	on := strings.LastIndex(t, " on ")
	return on > 10 && hasNumericDate(t[on:]) && !endsSentence(t)
}

// isDateNameLine: old Gmail's "2016-03-03 17:21 GMT+01:00 Some One", a
// date and a time with an offset from GMT or UTC and then only a name (one
// to five words, no digits, no end mark).
func isDateNameLine(t string) bool {
	if len(t) > 120 || len(t) < 16 || !isDigit(t[0]) {
		return false
	}
	zone := strings.Index(t, "GMT")
	if zone < 0 {
		zone = strings.Index(t, "UTC")
	}
	if zone < 0 || !hasYear(t[:zone]) || !hasTime(t[:zone]) {
		return false
	}
	rest := strings.Fields(t[zone+3:])
	if len(rest) < 2 || strings.Trim(rest[0], "+-0123456789:") != "" {
		return false
	}
	name := rest[1:]
	if len(name) > 5 || endsSentence(t) {
		return false
	}
	for _, w := range name {
		if strings.ContainsAny(w, "0123456789@<>:,;!?") {
			return false
		}
	}
	return true
}

func endsSentence(s string) bool {
	return strings.HasSuffix(s, ".") || strings.HasSuffix(s, "!") || strings.HasSuffix(s, "?") ||
		strings.HasSuffix(s, "。") || strings.HasSuffix(s, ":")
}

// isAttribution tells whether s (lowercased, lines joined) is a quote's
// attribution: it ends with a colon (or is framed by dashes, as Zoho
// writes "---- On ... wrote ----"; or, without either, ends with the verb
// or is date-first with an address last), names a date, a time or an
// address, and has the shape of one of the clients' forms:
//
//   - "On <date>, <name> wrote:" and translations: a start word (On, Am,
//     Le, El, Em, Il, Op, Den, Dnia, W dniu, Dne, В, Vào ...); also
//     "On <date>, <name> sent:";
//   - "<date> <name> <addr> napisał(a):": the verb at the end (also
//     "пользователь <name> написал:" with no year);
//   - "<name> <addr> schrieb am <date>:", "<date> skrev <name> <addr>:":
//     the verb next to the address; "<date> skrev <name>:" with a short
//     name after the verb;
//   - "<date>, <name> <addr>:" with no verb (Gmail in Russian, Japanese,
//     Korean; old Gmail's "2016-03-03 17:21 GMT+01:00 Some One <x@y>:";
//     "2011/4/7 Name <x@y>" without the colon);
//   - "---- <name> wrote ----" (Zoho): dashes, a short name, no date.
func isAttribution(s string) bool {
	s = trimSpace(s)
	dashed := strings.HasPrefix(s, "--")
	s = trimSpace(strings.TrimLeft(s, "-* "))
	if dashed {
		s = trimSpace(strings.TrimRight(s, "-* "))
	} else {
		s = strings.TrimSuffix(s, "*")
	}
	body, colon := strings.CutSuffix(s, ":")
	if !colon {
		body, colon = strings.CutSuffix(s, "：")
	}
	if !colon {
		body = s
	}
	body = trimSpace(body)
	if body == "" {
		return false
	}
	// Without a colon or dashes only two forms: the verb last, or the
	// date first and an address last.
	if !colon && !dashed && !endsWithVerb(body) && !(isDigit(body[0]) && strings.ContainsAny(body[len(body)-1:], ">)]")) {
		return false
	}
	if !looksDated(body) && !(russianUser(body) && endsWithVerb(body)) {
		// "---- Anna Berg wrote ----" (Zoho) names no date: the dashes
		// and a short name before the verb make it one.
		return dashed && shortNameBefore(body)
	}
	if colon && startsLikeAttribution(body) && strings.HasSuffix(body, " sent") {
		return true // "On <date>, <name> sent:"
	}
	verb := lastVerb(body)
	if verb < 0 {
		// No verb: a date and "<name> <address>" at the end; without a
		// colon only when the date comes first ("2011/4/7 Name <x@y>").
		if !colon && !isDigit(body[0]) {
			return false
		}
		return hasYear(body) && strings.Contains(body, "@") && (strings.HasSuffix(body, ">") || strings.HasSuffix(body, ")") || strings.HasSuffix(body, "]"))
	}
	end := verbEnd(body)
	if verbAt(end, len(end)) {
		// Without a colon ("On ..., X <x@y> wrote"): a start word or an
		// address as well, and the length of a date and a name.
		return colon || dashed || (len(body) >= 16 && (startsLikeAttribution(body) || strings.Contains(body, "@")))
	}
	if !colon && !dashed {
		return false
	}
	if startsLikeAttribution(body) {
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
	// "<date> skrev <name>:": the verb-second languages name the writer
	// after the verb; a dated head, a short name with no digits.
	for _, v := range []string{"skrev ", "schrieb ", "schreef "} {
		if name, ok := strings.CutPrefix(after, v); ok && (hasYear(before) || hasTime(before)) {
			if w := strings.Fields(name); len(w) > 0 && len(w) <= 5 && !strings.ContainsAny(name, "0123456789") {
				return true
			}
		}
	}
	if at := strings.LastIndexByte(before, '@'); at >= 0 && len(before)-at < 60 {
		return true
	}
	return strings.Contains(after, "@") && strings.Contains(after, "<") && strings.HasSuffix(after, ">") && len(after) < 160
}

// verbEnd is body without what may follow the verb at its end: a full
// stop, or the "(a)" of Polish and Czech "napisał(a)" / "napsal(a)".
// (Cutting a set of runes would cut the "a" that ends "írta".)
func verbEnd(body string) string {
	end := strings.TrimRight(body, " .")
	for _, suffix := range []string{"(a)", "(а)"} {
		end = strings.TrimSuffix(end, suffix)
	}
	return trimSpace(end)
}

// shortNameBefore: s is "<name> <verb>", one to four words of name.
func shortNameBefore(s string) bool {
	verb := lastVerb(s)
	if verb <= 0 || !verbAt(s, len(s)) {
		return false
	}
	words := strings.Fields(s[:verb])
	return len(words) > 0 && len(words) <= 4 && !oneOf(words[0], notNames)
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
	if !startsLikeAttributionFold(trimmed) {
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
		if !strings.HasPrefix(rest, ":") || trimSpace(rest[1:]) == "" {
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
	body, ok := strings.CutSuffix(trimSpace(trimmed), ":")
	if !ok {
		return false
	}
	lower := strings.ToLower(trimSpace(body))
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

// russianUser: Gmail in Russian and Ukrainian names the writer
// "пользователь <name> написал:" / "користувач <name> написав:", the
// date before it often without a year.
func russianUser(s string) bool {
	return strings.Contains(s, "пользователь ") || strings.Contains(s, "користувач ")
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

// splitTrailingAttributions finds attributions that a client appended to
// the last line of the person's text ("Thanks! On Mon, ... wrote:",
// "reply--- On ... wrote:") and puts each on a line of its own, so the
// rest of the stripper sees the text and the attribution apart. The
// attribution starts after a space or a dash with a capitalized start
// word, runs to the end of the line (or over the next lines), and names
// an address or a year.
func splitTrailingAttributions(lines []string) (out []string, splits []int) {
	// out is nil until a line is split; splits are the indexes (in out)
	// of the heads of split lines.
	for i, l := range lines {
		if len(l) < 24 || l[0] == '>' { // the common lines, at once
			if out != nil {
				out = append(out, l)
			}
			continue
		}
		head, tail, ok := trailingAttribution(lines, i)
		if !ok {
			if out != nil {
				out = append(out, lines[i])
			}
			continue
		}
		if out == nil {
			out = append(make([]string, 0, len(lines)+1), lines[:i]...)
		}
		splits = append(splits, len(out))
		out = append(out, head, tail)
	}
	if out == nil {
		return lines, nil
	}
	return out, splits
}

// maxTrailingTries bounds the start words trailingAttribution tries in
// one line.
const maxTrailingTries = 4

func trailingAttribution(lines []string, i int) (head, tail string, ok bool) {
	line := lines[i]
	if len(line) < 24 || len(line) > 2*maxAttribution || isQuoted(line) {
		return "", "", false
	}
	// At most maxTrailingTries start words are tried, so the scan of a
	// line stays linear.
	tries := 0
	for p := 1; p < len(line) && tries < maxTrailingTries; p++ {
		if line[p-1] != ' ' && line[p-1] != '-' {
			continue
		}
		r, _ := utf8.DecodeRuneInString(line[p:])
		if !unicode.IsUpper(r) || len(line)-p < 16 || !startsLikeAttributionFold(line[p:]) {
			continue
		}
		if tries == 0 {
			// A line that starts like an attribution is one ("On Mon,
			// ... 10:15 AM Helpdesk wrote:" is not text and an "Am ..."
			// attribution).
			lead := strings.TrimLeft(line, " \t-*>")
			if lead == "" || isDigit(lead[0]) || startsLikeAttributionFold(lead) || !mayEndAttribution(lines, i) {
				return "", "", false
			}
		}
		tries++
		var buf [4]string
		tmp := append(buf[:0], line[p:])
		tmp = append(tmp, lines[i+1:min(len(lines), i+4)]...)
		if n := attributionLines(tmp, 0); n > 0 {
			s := strings.Join(tmp[:n], " ")
			if strings.Contains(s, "@") || hasYear(s) {
				if head := strings.TrimRight(line[:p], " -"); trimSpace(head) != "" {
					return head, line[p:], true
				}
			}
		}
	}
	return "", "", false
}

// attributionStartsByByte lists the attributionStarts by their first
// byte, in either case for ASCII letters; non-ASCII starts are listed
// under every non-ASCII byte, since the upper and lower case of a letter
// may start with different bytes.
var attributionStartsByByte = func() (t [256][]string) {
	for _, p := range attributionStarts {
		c := p[0]
		if c >= 0x80 {
			for b := 0x80; b < 256; b++ {
				t[b] = append(t[b], p)
			}
			continue
		}
		t[c] = append(t[c], p)
		if 'a' <= c && c <= 'z' {
			t[c-'a'+'A'] = append(t[c-'a'+'A'], p)
		}
	}
	return t
}()

// startsLikeAttributionFold is startsLikeAttribution on s in any case,
// without lowering it.
func startsLikeAttributionFold(s string) bool {
	if s == "" {
		return false
	}
	for _, p := range attributionStartsByByte[s[0]] {
		if len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) {
			return true
		}
	}
	return false
}
