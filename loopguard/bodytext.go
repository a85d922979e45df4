package loopguard

import (
	"bytes"
	"html"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxWordsScan is how much of the author's own text the phrase rules
// read: an automatic text says what it is in its first lines.
const maxWordsScan = 16 << 10

// quoteMarkers end the author's own text: what follows is a quoted or
// forwarded copy of someone else's mail (Outlook, Gmail, Apple Mail,
// Thunderbird, in a few languages). Lower case.
var quoteMarkers = []string{
	"-----original message-----", "----- original message -----", "-------- original message --------",
	"---------- forwarded message", "-------- forwarded message", "begin forwarded message",
	"-----ursprüngliche nachricht-----", "-------- weitergeleitete nachricht", "-----message d'origine-----",
	"-------- message transféré", "-----mensaje original-----", "-----messaggio originale-----",
	"-----oorspronkelijk bericht-----", "-----mensagem original-----", "-----wiadomość oryginalna-----",
	"-----původní zpráva-----",
}

// htmlQuoteMarkers start a quoted copy inside HTML.
var htmlQuoteMarkers = []string{`class="gmail_quote"`, `id="divrplyfwdmsg"`, `id="appendonsend"`, `class="moz-cite-prefix"`, `<blockquote`, `id="mail-editor-reference-message-container"`}

// words returns the author's own text of the message, lower-cased, with
// white space collapsed: the first text/plain part (or the text of the
// first text/html part when there is no plain text worth reading), quoted
// lines and everything after a quote or forward marker removed, at most
// maxWordsScan bytes. Made once per message; linear in the size read.
func (m *message) words() string {
	if m.text != nil {
		return *m.text
	}
	var plain, htm []byte
	for _, p := range m.parts {
		if plain == nil && p.mediaType == "text/plain" {
			plain = p.content
		}
		if htm == nil && p.mediaType == "text/html" {
			htm = p.content
		}
	}
	s, lead := ownText(plain)
	if len(strings.TrimSpace(s)) < 20 && htm != nil {
		s, lead = ownText([]byte(htmlText(htm)))
	}
	m.text, m.lead = &s, lead
	return s
}

// phrases is the phrase tables' hits in the author's own words, found in
// one pass over them on first use.
func (m *message) phrases() phraseHits {
	if m.hits == nil {
		h := bodyPhrases.scan(m.words())
		m.hits = &h
	}
	return *m.hits
}

// leadLines returns the first non-empty lines of the author's own text
// (at most maxLeadLines), each normalised like words.
func (m *message) leadLines() []string {
	m.words()
	return m.lead
}

const maxLeadLines = 3

// ownText keeps the lines of b before the first quote marker, without
// ">" quoted lines, "On ... wrote:" headers, the lines a quote header
// ("The reply said:") introduces, and what stands between quotation
// marks on a line: what a person quotes is not their own words. It also
// returns the first maxLeadLines non-empty lines.
func ownText(b []byte) (string, []string) {
	out := make([]byte, 0, min(len(b), maxWordsScan)+64)
	var lead []string
	body := b
	var chunk string // body[chunkAt:], lower-cased, for the ASCII lines
	chunkAt := 0
	inQuote := false
	for len(b) > 0 && len(out) < maxWordsScan {
		line, rest := cutLine(b)
		b = rest
		t := bytes.TrimSpace(line)
		if len(t) > 0 && (t[0] == '>' || bytes.HasPrefix(t, fullwidthGT)) {
			continue
		}
		if len(t) == 0 {
			inQuote = false
			continue
		}
		if inQuote {
			continue
		}
		var low string
		low, chunk, chunkAt = lowerLine(body, t, chunk, chunkAt)
		if isQuoteMarker(low) || quotedHeaderBlock(low, rest) {
			break
		}
		if quoteIntro(low) {
			// "I got this reply:" - the lines up to the next blank line
			// are what the person got, not what they write.
			inQuote = true
		}
		low = dropQuoted(low)
		start := len(out)
		out = appendNormal(out, low)
		if len(out) > start && out[len(out)-1] == ' ' {
			out = out[:len(out)-1]
		}
		if len(out) == start {
			continue
		}
		if len(lead) < maxLeadLines {
			lead = append(lead, string(out[start:]))
		}
		out = append(out, ' ')
	}
	s := string(out)
	if len(s) > maxWordsScan {
		s = strings.ToValidUTF8(s[:maxWordsScan], "")
	}
	return s, lead
}

// fullwidthGT is "＞", the quote mark of Japanese and Chinese mail clients.
var fullwidthGT = []byte("＞")

// lowerLine returns strings.ToLower(string(t)) for t, a line of body.
// An ASCII line is sliced from chunk, a lower-cased copy of body from
// chunkAt on, made when the line is past it, of lowerChunk bytes at
// least: one allocation for the lines of most bodies instead of one a
// line. It returns the chunk for the next line.
func lowerLine(body, t []byte, chunk string, chunkAt int) (string, string, int) {
	if !isASCII(t) {
		return strings.ToLower(string(t)), chunk, chunkAt
	}
	at := cap(body) - cap(t) // where t is in body
	if len(t) == 0 || at < 0 || at+len(t) > len(body) || &body[at] != &t[0] {
		return strings.ToLower(string(t)), chunk, chunkAt // not a slice of body
	}
	if at < chunkAt || at+len(t) > chunkAt+len(chunk) {
		end := min(len(body), at+max(len(t), lowerChunk))
		var low strings.Builder
		low.Grow(end - at)
		from := at
		for i := at; i < end; i++ {
			if c := body[i]; 'A' <= c && c <= 'Z' {
				low.Write(body[from:i])
				low.WriteByte(c + ('a' - 'A'))
				from = i + 1
			}
		}
		low.Write(body[from:end])
		chunk, chunkAt = low.String(), at
	}
	return chunk[at-chunkAt : at-chunkAt+len(t)], chunk, chunkAt
}

// isASCII: every byte of b is below 0x80 (eight bytes a step).
func isASCII(b []byte) bool {
	i := 0
	for ; i+8 <= len(b); i += 8 {
		w := b[i : i+8 : i+8] // one bounds check for the eight loads
		if (w[0]|w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7])&0x80 != 0 {
			return false
		}
	}
	for ; i < len(b); i++ {
		if b[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// lowerChunk is how much of a body lowerLine lowers at a time.
const lowerChunk = 4 << 10

// quoteIntroWords are the verbs of a line that introduces a quotation
// ("They replied:", "I got this reply:", "Ich habe diese Antwort
// erhalten:", "我收到的回复："): someone said or wrote, or the author got.
// Nouns alone ("Thank you for your message:") do not count: an
// acknowledgement opens its own text that way.
var quoteIntroWords = []string{
	"said", "says", "saying", "wrote", "writes", "reads", "replied", "responded", "answered", "i got", "i get", "i've got",
	"i received", "i receive", "i've received", "i have received", "we got", "we get", "got this", "got the following",
	"received this", "received the following", "came back", "bounced back", "erhalten", "bekommen", "bekam", "schreibt",
	"schrieb", "lautet", "j'ai reçu", "nous avons reçu ce", "recibí", "he recibido", "recebi", "ho ricevuto",
	"ik kreeg", "ik heb ontvangen", "heb ik ontvangen", "otrzymałem", "otrzymałam", "dostałem", "dostałam", "obdržel",
	"dostal jsem", "я получил", "я получила", "пришло", "пишет", "我收到", "收到了", "受け取", "届きました", "받았",
	"aldım", "geldi",
}

// quoteIntro tells whether a line introduces a quotation: it ends with a
// colon and says what follows is a reply or message someone got.
func quoteIntro(low string) bool {
	if !strings.HasSuffix(low, ":") && !strings.HasSuffix(low, "：") {
		return false
	}
	return findAny(low, quoteIntroWords) != ""
}

// quotePairs are the quotation marks whose contents on one line are
// someone else's words.
var quotePairs = [][2]string{{"\"", "\""}, {"“", "”"}, {"„", "“"}, {"«", "»"}, {"「", "」"}, {"『", "』"}}

// inlineQuoteIntros introduce reported words within a line ("I get an
// automatic reply saying this is an automated message"): the rest of the
// line is what the person got, not what they write.
var inlineQuoteIntros = []string{" saying ", " saying:", " says:", " said:", " stating ", " which reads", " that reads",
	" with the text", " mit dem text", " der lautet", " qui dit ", " que dice ", " che dice ", " die zegt", " который гласит"}

// dropQuoted removes what stands between a pair of quotation marks on
// one line, and the rest of a line after an inline quote intro.
func dropQuoted(line string) string {
	if hasInlineIntro(line) {
		for _, q := range inlineQuoteIntros {
			if i := strings.Index(line, q); i >= 0 {
				line = line[:i]
			}
		}
	}
	if !quotePairFirst.containsAny(line) {
		return line
	}
	for _, q := range quotePairs {
		for n := 0; n < 20; n++ {
			i := strings.Index(line, q[0])
			if i < 0 {
				break
			}
			j := strings.Index(line[i+len(q[0]):], q[1])
			if j < 0 {
				break
			}
			line = line[:i] + " " + line[i+len(q[0])+j+len(q[1]):]
		}
	}
	return line
}

// hasInlineIntro tells whether one of inlineQuoteIntros is in line.
func hasInlineIntro(line string) bool {
	for i := 0; i+1 < len(line); i++ {
		j := strings.IndexByte(line[i:], ' ')
		if j < 0 || i+j+1 >= len(line) {
			return false
		}
		i += j
		for _, q := range inlineIntroBySecond[line[i+1]] {
			if strings.HasPrefix(line[i:], q) {
				return true
			}
		}
	}
	return false
}

// quoteFromWords and quoteSentWords start the first two lines of the
// header block Outlook writes above a quoted message, in its languages.
var (
	quoteFromWords = []string{"from:", "von:", "de :", "de:", "da:", "van:", "od:", "från:", "fra:", "от:", "差出人:",
		"发件人:", "寄件者:", "kimden:", "보낸 사람:", "feladó:", "lähettäjä:", "από:", "מאת:", "من:", "від:", "frá:",
		"dari:", "từ:", "จาก:", "od :", "from :"}
	quoteSentWords = []string{"sent:", "date:", "gesendet:", "datum:", "envoyé :", "envoyé:", "enviado:", "enviado el:",
		"enviada em:", "enviado em:", "inviato:", "verzonden:", "wysłano:", "odesláno:", "odoslané:", "skickat:", "sendt:",
		"отправлено:", "送信日時:", "发送时间:", "寄件日期:", "gönderildi:", "gönderilme:", "보낸 날짜:", "elküldve:",
		"lähetetty:", "στάλθηκε:", "נשלח:", "تاريخ الإرسال:", "أرسلت:", "надіслано:", "trimis:", "poslano:", "išsiųsta:",
		"nosūtīts:", "saadetud:", "dikirim:", "đã gửi:", "ส่ง:", "sent :", "date :"}
)

// quotedHeaderBlock tells whether line starts the header block Outlook
// and others put above a quoted message ("From: ..." then "Sent: ..."
// within the next lines), in a few languages.
func quotedHeaderBlock(low string, rest []byte) bool {
	if low == "" || !quoteFromFirst[low[0]] || !hasAnyPrefix(low, quoteFromWords) {
		return false
	}
	for i := 0; i < 4 && len(rest) > 0; i++ {
		line, next := cutLine(rest)
		rest = next
		l := strings.ToLower(strings.TrimSpace(string(line)))
		if l != "" && quoteSentFirst[l[0]] && hasAnyPrefix(l, quoteSentWords) {
			return true
		}
	}
	return false
}

// quoteHeaderEnds end the line a mail client puts above a quoted reply
// ("On Mon, 1 Dec 2026, Ann <a@b> wrote:"), in many languages.
var quoteHeaderEnds = []string{
	"wrote:", "schrieb:", "a écrit :", "a écrit:", "escribió:", "ha scritto:", "schreef:", "escreveu:", "napisał:",
	"napsal:", "napísal:", "skrev:", "kirjoitti:", "írta:", "a scris:", "написал:", "написала:", "написав:",
	"написа:", "yazdı:", "έγραψε:", "כתב:", "كتب:", "نوشت:", "เขียน:", "đã viết:", "menulis:", "ने लिखा:",
	"写道：", "写道:", "寫道：", "寫道:", "書きました:", "書きました：", "작성:", "님이 작성:", "wrote :", "écrit :",
}

// separatorWords name the original message in a separator line
// ("-----原始邮件-----").
var separatorWords = []string{
	"original", "ursprüngliche", "d'origine", "originale", "oorspronkelijk", "oryginalna", "původní", "pôvodná",
	"eredeti", "originală", "исходное", "оригинальное", "вихідне", "orijinal", "alkuperäinen", "oprindelig",
	"opprinnelig", "ursprungligt", "αρχικό", "原始邮件", "原始郵件", "元のメッセージ", "원본 메시지", "forwarded", "weitergeleitet",
	"转发", "轉寄", "転送", "전달", "пересланное", "transféré", "reenviado", "inoltrato", "doorgestuurd", "przekazana",
}

func isQuoteMarker(low string) bool {
	if low == "" {
		return false
	}
	if quoteMarkerFirst[low[0]] {
		for _, q := range quoteMarkers {
			if strings.HasPrefix(low, q) {
				return true
			}
		}
	}
	// Outlook's separator above the quoted header block.
	if len(low) >= 20 && low[0] == '_' && strings.Trim(low, "_") == "" {
		return true
	}
	// "On Mon, 1 Dec 2026, Ann <a@b> wrote:" and its translations.
	if len(low) < 300 && quoteHeaderEndLast[low[len(low)-1]] {
		for _, w := range quoteHeaderEnds {
			if strings.HasSuffix(low, w) {
				return true
			}
		}
	}
	// "-----Original Message-----" in other languages.
	if strings.HasPrefix(low, "--") || strings.HasPrefix(low, "——") {
		return findAny(low, separatorWords) != ""
	}
	return false
}

// byteSet is a set of bytes, for the fast paths of the line tests: the
// first bytes of a list of prefixes, the last bytes of a list of
// suffixes, the first bytes of the phrases searched for.
type byteSet [256]bool

func firstBytes(words ...[]string) *byteSet {
	var s byteSet
	for _, l := range words {
		for _, w := range l {
			s[w[0]] = true
		}
	}
	return &s
}

func lastBytes(words []string) *byteSet {
	var s byteSet
	for _, w := range words {
		s[w[len(w)-1]] = true
	}
	return &s
}

// containsAny tells whether s holds a byte of set.
func (set *byteSet) containsAny(s string) bool {
	for i := 0; i < len(s); i++ {
		if set[s[i]] {
			return true
		}
	}
	return false
}

var (
	quoteMarkerFirst   = firstBytes(quoteMarkers)
	quoteHeaderEndLast = lastBytes(quoteHeaderEnds)
	quoteFromFirst     = firstBytes(quoteFromWords)
	quoteSentFirst     = firstBytes(quoteSentWords)
	quotePairFirst     = quotePairOpeners()
	// inlineIntroBySecond holds the inline quote intros by the byte
	// after the space they start with.
	inlineIntroBySecond = func() *[256][]string {
		var s [256][]string
		for _, q := range inlineQuoteIntros {
			s[q[1]] = append(s[q[1]], q)
		}
		return &s
	}()
)

func quotePairOpeners() *byteSet {
	var s byteSet
	for _, q := range quotePairs {
		s[q[0][0]] = true
	}
	return &s
}

// appendNormal appends s to dst with runs of white space (including
// no-break spaces) collapsed to one space, white space at its start left
// out, and typographic apostrophes made plain.
func appendNormal(dst []byte, s string) []byte {
	space := true
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			i++
			if asciiSpace[c] {
				if !space {
					dst = append(dst, ' ')
				}
				space = true
				continue
			}
			space = false
			dst = append(dst, c)
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch {
		case r == '\u2019' || r == '\u2018':
			r = '\''
		case r == utf8.RuneError:
			continue
		}
		if unicode.IsSpace(r) || r == '\u00a0' {
			if !space {
				dst = append(dst, ' ')
			}
			space = true
			continue
		}
		space = false
		dst = utf8.AppendRune(dst, r)
	}
	return dst
}

// asciiSpace are the ASCII bytes unicode.IsSpace reports.
var asciiSpace = [utf8.RuneSelf]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// htmlText turns HTML into text, in one linear pass: tags become line
// breaks, the contents of head, style and script are dropped, entities
// are decoded, and the text stops where a quoted copy starts. It is not a
// renderer; it only has to let the phrase rules read an HTML-only mail.
func htmlText(b []byte) string {
	if len(b) > maxTextScan {
		b = b[:maxTextScan]
	}
	var out strings.Builder
	skipUntil := ""
	for i := 0; i < len(b); {
		if b[i] != '<' {
			j := bytes.IndexByte(b[i:], '<')
			if j < 0 {
				j = len(b) - i
			}
			if skipUntil == "" {
				out.Write(b[i : i+j])
			}
			i += j
			continue
		}
		j := bytes.IndexByte(b[i:], '>')
		if j < 0 {
			break
		}
		tag := strings.ToLower(string(b[i+1 : i+j]))
		i += j + 1
		if skipUntil != "" {
			if strings.HasPrefix(tag, skipUntil) {
				skipUntil = ""
			}
			continue
		}
		for _, q := range htmlQuoteMarkers {
			if strings.Contains("<"+tag, q) {
				return html.UnescapeString(out.String())
			}
		}
		switch name := tagName(tag); name {
		case "head", "style", "script", "title":
			skipUntil = "/" + name
		case "br", "p", "/p", "div", "/div", "tr", "li", "h1", "h2", "h3", "table", "/table", "hr":
			out.WriteByte('\n')
		default:
			out.WriteByte(' ')
		}
	}
	return html.UnescapeString(out.String())
}

func tagName(tag string) string {
	end := strings.IndexAny(tag, " \t\r\n/>")
	if strings.HasPrefix(tag, "/") {
		end = strings.IndexAny(tag[1:], " \t\r\n>")
		if end >= 0 {
			end++
		}
	}
	if end < 0 {
		return tag
	}
	if end == 0 {
		return tag
	}
	return tag[:end]
}

// findAny returns the first of phrases found in s, or "".
func findAny(s string, phrases []string) string {
	for _, p := range phrases {
		if strings.Contains(s, p) {
			return p
		}
	}
	return ""
}
