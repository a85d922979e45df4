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
	s := ownText(plain)
	if len(strings.TrimSpace(s)) < 20 && htm != nil {
		s = ownText([]byte(htmlText(htm)))
	}
	m.text = &s
	return s
}

// ownText keeps the lines of b before the first quote marker, without
// ">" quoted lines and "On ... wrote:" headers, normalised.
func ownText(b []byte) string {
	var out strings.Builder
	for len(b) > 0 && out.Len() < maxWordsScan {
		line, rest := cutLine(b)
		b = rest
		t := bytes.TrimSpace(line)
		if len(t) > 0 && t[0] == '>' {
			continue
		}
		low := strings.ToLower(string(t))
		if isQuoteMarker(low) || quotedHeaderBlock(low, rest) {
			break
		}
		writeNormal(&out, low)
		out.WriteByte(' ')
	}
	s := out.String()
	if len(s) > maxWordsScan {
		s = strings.ToValidUTF8(s[:maxWordsScan], "")
	}
	return s
}

// quotedHeaderBlock tells whether line starts the header block Outlook
// and others put above a quoted message ("From: ..." then "Sent: ..."
// within the next lines), in a few languages.
func quotedHeaderBlock(low string, rest []byte) bool {
	if !hasAnyPrefix(low, []string{"from:", "von:", "de :", "de:", "da:", "van:", "od:", "från:", "fra:", "от:", "差出人:", "发件人:"}) {
		return false
	}
	for i := 0; i < 4 && len(rest) > 0; i++ {
		line, next := cutLine(rest)
		rest = next
		l := strings.ToLower(strings.TrimSpace(string(line)))
		if hasAnyPrefix(l, []string{"sent:", "date:", "gesendet:", "datum:", "envoyé :", "envoyé:", "enviado:", "enviado el:", "inviato:", "verzonden:", "wysłano:", "odesláno:", "skickat:", "sendt:", "отправлено:", "送信日時:", "发送时间:"}) {
			return true
		}
	}
	return false
}

func isQuoteMarker(low string) bool {
	for _, q := range quoteMarkers {
		if strings.HasPrefix(low, q) {
			return true
		}
	}
	// Outlook's separator above the quoted header block.
	if len(low) >= 20 && strings.Trim(low, "_") == "" {
		return true
	}
	// "On Mon, 1 Dec 2026, Ann <a@b> wrote:" and its translations.
	if len(low) < 300 {
		for _, w := range []string{"wrote:", "schrieb:", "a écrit :", "a écrit:", "escribió:", "ha scritto:", "schreef:", "escreveu:", "napisał:", "napsal:", "skrev:"} {
			if strings.HasSuffix(low, w) {
				return true
			}
		}
	}
	return false
}

// writeNormal writes s with runs of white space (including no-break
// spaces) collapsed to one space and typographic apostrophes made plain.
func writeNormal(b *strings.Builder, s string) {
	space := false
	for _, r := range s {
		switch {
		case r == '\u2019' || r == '\u2018':
			r = '\''
		case r == utf8.RuneError:
			continue
		}
		if unicode.IsSpace(r) || r == '\u00a0' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		b.WriteRune(r)
	}
}

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
