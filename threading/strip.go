package threading

import (
	"strings"
)

// Quote and signature stripping. A reply by email carries, besides the new
// text, the message it answers (quoted with ">" or after an attribution
// or header block) and a signature. Only the new text becomes the
// conversation message; the caller keeps the full original with it.
//
// StripText works line by line in one pass and keeps a line unless it is:
//
//   - quoted: starts with ">" (RFC 3676 section 4.5);
//   - an attribution ("On <date>, <name> wrote:" and its German, French,
//     Spanish, Dutch, Italian, Portuguese and Nordic forms, wrapped over up
//     to three lines as Gmail does) directly followed by quoted lines;
//
// and it stops (drops the line and everything after it) at:
//
//   - a reply marker of our own templates ("##- Please type your reply
//     above this line -##", see ReplyMarkerPrefix), once some new text
//     was seen (a marker above any new text is only dropped);
//   - an attribution followed by unquoted text (the old message as
//     Outlook for Mac and some webmails write it);
//   - Outlook's "-----Original Message-----" line in any of its
//     languages, and its "From: / Sent: / To: / Subject:" header block,
//     also after a line of underscores (Outlook web);
//   - a signature: the "-- " delimiter (RFC 3676 section 4.3) or a
//     phone client line such as "Sent from my iPhone".
//
// If nothing is left, the input was all quote (or we misread it), and
// StripText returns it unchanged: a message must never come out empty.
// Runs of blank lines left behind are folded into one.

// MaxStripInput is how much of a body StripText examines: 256 KiB, far
// more than anyone types. Text beyond it follows the state at the cap:
// dropped when the scan stopped at a cut or ended inside a quote, kept as
// is otherwise. The scan is linear in the input:
// every look-ahead is bounded by a constant number of lines.
const MaxStripInput = 256 << 10

// ReplyMarkerPrefix starts the marker line that every notification email
// carries above the quoted conversation, in any language, e.g.
// "##- Please type your reply above this line -##". The prefix is what
// StripText looks for, so translations need not be listed here; the
// phrases in replyMarkerPhrases are a fallback for markers whose prefix
// a client mangled.
const ReplyMarkerPrefix = "##-"

var replyMarkerPhrases = []string{
	"reply above this line",
	"oberhalb dieser zeile",
	"au-dessus de cette ligne",
	"encima de esta línea",
	"boven deze regel",
	"sopra questa riga",
	"acima desta linha",
}

// StripText returns the new text of a plain-text email body, lines
// separated by "\n".
func StripText(text string) string {
	out, _ := stripText(text)
	return out
}

// stripText is StripText; ok is false when it fell back to the input.
func stripText(text string) (out string, ok bool) {
	scan, rest := text, ""
	if len(text) > MaxStripInput {
		cut := strings.LastIndexByte(text[:MaxStripInput], '\n')
		if cut < 0 {
			return text, false
		}
		scan, rest = text[:cut+1], text[cut+1:]
	}
	lines := strings.Split(scan, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	kept, stopped, inQuote := stripLines(lines)
	if !hasText(kept) {
		return text, false
	}
	out = strings.Join(foldBlank(kept), "\n")
	if !stopped && !inQuote && rest != "" {
		out += "\n" + rest
	}
	return out, true
}

// stripLines keeps the new lines; stopped reports a cut, inQuote that
// the last non-blank line was a dropped quote.
func stripLines(lines []string) (kept []string, stopped, inQuote bool) {
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		if isQuoted(line) {
			inQuote = true
			continue
		}
		if strings.TrimSpace(line) != "" {
			inQuote = false
		}
		trimmed := strings.TrimSpace(line)
		if isReplyMarker(trimmed) {
			if hasText(kept) {
				return kept, true, false
			}
			continue
		}
		if n := attributionLines(lines, i); n > 0 {
			if nextIsQuoted(lines, i+n) {
				i += n - 1
				continue
			}
			return kept, true, false
		}
		if isOriginalMessage(trimmed) || isHeaderBlock(lines, i) || (isUnderscoreRule(trimmed) && headerBlockFollows(lines, i+1)) {
			return kept, true, false
		}
		// "-- " is the delimiter; many clients lose the trailing space.
		if trimmed == "--" && hasText(kept) {
			return kept, true, false
		}
		if isPhoneSignature(trimmed) {
			if hasText(kept) {
				return kept, true, false
			}
			continue
		}
		kept = append(kept, line)
	}
	return kept, false, inQuote
}

// isQuoted: ">" after optional blanks. Some clients indent quotes.
func isQuoted(line string) bool {
	return strings.HasPrefix(strings.TrimLeft(line, " \t"), ">")
}

func hasText(lines []string) bool {
	for _, l := range lines {
		if strings.TrimSpace(l) != "" {
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
		if strings.TrimSpace(l) == "" {
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
	if len(trimmed) > 120 {
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

// nextIsQuoted looks at the first non-blank line at or after i, at most a
// few lines ahead.
func nextIsQuoted(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+4; j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return isQuoted(lines[j])
		}
	}
	return false
}

// attribution is one language's "On <date>, <name> wrote:" form: the line
// starts with one of start (lowercase, or "" for any), contains one of
// verbs, and ends with a colon.
type attribution struct {
	start []string
	verbs []string
}

var attributions = []attribution{
	{[]string{"on "}, []string{"wrote"}},                              // English
	{[]string{"am "}, []string{"schrieb"}},                            // German
	{[]string{"le "}, []string{"a écrit"}},                            // French
	{[]string{"el "}, []string{"escribió"}},                           // Spanish
	{[]string{"op "}, []string{"schreef", "het volgende geschreven"}}, // Dutch
	{[]string{"il "}, []string{"ha scritto"}},                         // Italian
	{[]string{"em ", "no dia "}, []string{"escreveu"}},                // Portuguese
	{[]string{""}, []string{" skrev", " kirjoitti"}},                  // Nordic, Finnish
}

// maxAttribution bounds the length of an attribution (all its lines).
const maxAttribution = 400

// attributionLines returns how many lines (1 to 3) starting at i form an
// attribution, or 0. Gmail wraps long ones ("On Mon, ... John Doe <\n
// john@example.com> wrote:"). It must name an address or a time of day,
// as every client writes one, so "On 3 occasions I wrote:" is text.
func attributionLines(lines []string, i int) int {
	first := strings.ToLower(strings.TrimSpace(lines[i]))
	if first == "" || len(first) > maxAttribution {
		return 0
	}
	var cand []attribution
	for _, a := range attributions {
		for _, s := range a.start {
			if strings.HasPrefix(first, s) {
				cand = append(cand, a)
				break
			}
		}
	}
	if len(cand) == 0 {
		return 0
	}
	joined := first
	for n := 1; n <= 3 && i+n <= len(lines); n++ {
		if n > 1 {
			next := strings.ToLower(strings.TrimSpace(lines[i+n-1]))
			if next == "" || isQuoted(lines[i+n-1]) {
				return 0
			}
			joined += " " + next
			if len(joined) > maxAttribution {
				return 0
			}
		}
		if !strings.HasSuffix(joined, ":") || !looksDated(joined) {
			continue
		}
		for _, a := range cand {
			for _, v := range a.verbs {
				if strings.Contains(joined, v) {
					return n
				}
			}
		}
	}
	return 0
}

// looksDated: an '@' (the sender's address) or a time such as "10:15"
// or "10.15" (Nordic clients).
func looksDated(s string) bool {
	if strings.Contains(s, "@") {
		return true
	}
	for i := 1; i+2 < len(s); i++ {
		if (s[i] == ':' || s[i] == '.') && isDigit(s[i-1]) && isDigit(s[i+1]) && isDigit(s[i+2]) {
			return true
		}
	}
	return false
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// originalMessage are Outlook's separators between reply and original,
// lowercased, without the dashes around them.
var originalMessage = []string{
	"original message", "ursprüngliche nachricht", "originalnachricht",
	"message d'origine", "message d’origine", "mensaje original",
	"oorspronkelijk bericht", "messaggio originale", "mensagem original",
	"originalmeddelande", "oprindelig meddelelse", "opprinnelig melding",
	"alkuperäinen viesti", "wiadomość oryginalna",
}

func isOriginalMessage(trimmed string) bool {
	if !strings.HasPrefix(trimmed, "---") || len(trimmed) > 80 {
		return false
	}
	inner := strings.ToLower(strings.Trim(trimmed, "- "))
	for _, s := range originalMessage {
		if inner == s {
			return true
		}
	}
	return false
}

func isUnderscoreRule(trimmed string) bool {
	return len(trimmed) >= 8 && strings.Trim(trimmed, "_") == ""
}

// Outlook's header block, by field, in the languages above. Keys are
// lowercased, without the colon; "*From:*" (bold, from HTML) also counts.
var (
	headerFrom   = []string{"from", "von", "de", "van", "da", "fra", "från", "od", "lähettäjä"}
	headerFields = []string{
		"sent", "date", "gesendet", "datum", "envoyé", "enviado", "enviado el", "fecha",
		"verzonden", "verstuurd", "inviato", "data", "sendt", "skickat", "lähetetty",
		"to", "an", "à", "a", "para", "aan", "til", "till", "vastaanottaja", "do",
		"subject", "betreff", "objet", "asunto", "onderwerp", "oggetto", "assunto",
		"emne", "ämne", "aihe", "temat", "cc",
	}
)

// headerKey returns the lowercased field name of "Name: value" or "".
func headerKey(line string) string {
	if len(line) > 64 {
		line = line[:64] // the key is near the start; keep the scan constant
	}
	t := strings.TrimSpace(line)
	t = strings.TrimPrefix(t, "*")
	colon := strings.IndexByte(t, ':')
	if colon <= 0 || colon > 24 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(strings.Trim(t[:colon], "* \u00a0")))
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// isHeaderBlock: a From line followed, within the next six non-blank
// lines (and twelve lines in all), by at least two other header fields (Sent, To, Subject...).
func isHeaderBlock(lines []string, i int) bool {
	if !oneOf(headerKey(lines[i]), headerFrom) {
		return false
	}
	fields, seen := 0, 0
	for j := i + 1; j < len(lines) && j <= i+12 && seen < 6; j++ {
		if strings.TrimSpace(lines[j]) == "" {
			continue
		}
		seen++
		if oneOf(headerKey(lines[j]), headerFields) {
			fields++
			if fields == 2 {
				return true
			}
		}
	}
	return false
}

func headerBlockFollows(lines []string, i int) bool {
	for j := i; j < len(lines) && j < i+3; j++ {
		if strings.TrimSpace(lines[j]) != "" {
			return isHeaderBlock(lines, j)
		}
	}
	return false
}

// phoneSignatures start the one-line signatures of phone and web clients,
// lowercased.
var phoneSignatures = []string{
	"sent from my ", "sent from outlook", "get outlook for ", "sent from mail for windows",
	"sent from yahoo mail", "sent from the all new aol", "sent with proton mail",
	"sent from samsung", "gesendet von ", "gesendet mit ",
	"envoyé de mon ", "envoyé depuis mon ", "envoyé à partir de ", "obtenir outlook pour ",
	"enviado desde mi ", "enviado de mi ", "obtener outlook para ", "verzonden vanaf mijn ",
	"verstuurd vanaf mijn ", "verzonden met ", "inviato da ", "enviado do meu ",
	"skickat från min ",
}

// isPhoneSignature matches a short line such as "Sent from my iPhone".
func isPhoneSignature(trimmed string) bool {
	if len(trimmed) > 60 {
		return false
	}
	lower := strings.ToLower(trimmed)
	// "Von meinem iPhone gesendet": the verb comes last in German.
	if strings.HasPrefix(lower, "von meinem ") && strings.HasSuffix(lower, "gesendet") {
		return true
	}
	for _, p := range phoneSignatures {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}
