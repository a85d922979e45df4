package threading

import (
	"strings"

	"golang.org/x/net/html"
)

// MaxStripHTMLInput bounds the HTML StripHTML parses: 1 MiB. HTML replies
// carry far more markup than text, so the cap is larger than
// MaxStripInput; the rest is dropped (the original stays with the caller).
const MaxStripHTMLInput = 1 << 20

// StripHTML turns an HTML body into text and returns its new part. It
// first drops the elements mail clients wrap quotes and signatures in,
// then applies StripText to the text, which catches what clients write
// without markup (Outlook's From:/Sent: block, "On ... wrote:"):
//
//   - Gmail: <div class="gmail_quote"> (attribution and blockquote),
//     <div class="gmail_signature">;
//   - Apple Mail and Thunderbird: <blockquote type="cite">, and
//     Thunderbird's <div class="moz-cite-prefix"> and "moz-signature";
//   - Outlook web and new Outlook: everything from <div id="appendonsend">
//     or <div id="divRplyFwdMsg"> on; Outlook for iOS/Mac:
//     <div id="mail-editor-reference-message-container">;
//   - Yahoo: <div class="yahoo_quoted">; Proton: "protonmail_quote".
//
// If that leaves nothing, it returns the whole text (never empty for a
// body with text).
func StripHTML(src string) string {
	if len(src) > MaxStripHTMLInput {
		src = src[:MaxStripHTMLInput]
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil { // only on reader errors; a strings.Reader has none
		return StripText(src)
	}
	if out := StripText(htmlText(doc, true)); strings.TrimSpace(out) != "" {
		return out
	}
	return strings.TrimSpace(htmlText(doc, false))
}

var (
	quoteClasses = []string{"gmail_quote", "gmail_signature", "moz-cite-prefix", "moz-signature", "yahoo_quoted", "protonmail_quote"}
	skipIDs      = []string{"mail-editor-reference-message-container"}
	stopIDs      = []string{"appendonsend", "divrplyfwdmsg"}
	blockTags    = map[string]bool{
		"p": true, "div": true, "li": true, "ul": true, "ol": true, "tr": true, "table": true,
		"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "pre": true,
		"blockquote": true, "section": true, "article": true, "header": true, "footer": true,
		"dl": true, "dt": true, "dd": true, "address": true, "center": true, "hr": true, "body": true,
	}
	hiddenTags = map[string]bool{"head": true, "script": true, "style": true, "title": true, "template": true, "svg": true}
)

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, classes []string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if oneOf(c, classes) {
			return true
		}
	}
	return false
}

// textWriter builds text from HTML: block elements start lines, white
// space collapses outside <pre>, and no line starts with a space.
type textWriter struct {
	b         strings.Builder
	lineStart bool
	space     bool
	pre       int
}

func (w *textWriter) newline() {
	if !w.lineStart {
		w.b.WriteByte('\n')
	}
	w.lineStart, w.space = true, false
}

func (w *textWriter) text(s string) {
	if w.pre > 0 {
		w.b.WriteString(s)
		w.lineStart = strings.HasSuffix(s, "\n")
		return
	}
	fields := strings.FieldsFunc(s, isHTMLSpace)
	if len(s) > 0 && isHTMLSpace(rune(s[0])) {
		w.space = true // separates this node from the previous one
	}
	for i, f := range fields {
		if (i > 0 || w.space) && !w.lineStart {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(f)
		w.lineStart = false
	}
	if len(fields) > 0 {
		w.space = isHTMLSpace(rune(s[len(s)-1]))
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

// htmlText renders doc as text. With skipQuotes it leaves out the quote
// and signature elements StripHTML lists. The walk is iterative, so
// deeply nested input cannot exhaust the stack.
func htmlText(doc *html.Node, skipQuotes bool) string {
	type item struct {
		n    *html.Node
		exit bool
	}
	var w textWriter
	w.lineStart = true
	stack := []item{{n: doc}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := it.n
		if it.exit {
			if n.Data == "pre" {
				w.pre--
			}
			if blockTags[n.Data] {
				w.newline()
			}
			continue
		}
		switch n.Type {
		case html.TextNode:
			w.text(n.Data)
			continue
		case html.ElementNode:
			if hiddenTags[n.Data] {
				continue
			}
			if skipQuotes {
				id := strings.ToLower(attr(n, "id"))
				if oneOf(id, stopIDs) {
					return w.String()
				}
				if hasClass(n, quoteClasses) || oneOf(id, skipIDs) ||
					(n.Data == "blockquote" && strings.EqualFold(attr(n, "type"), "cite")) {
					continue
				}
			}
			switch n.Data {
			case "br":
				w.b.WriteByte('\n')
				w.lineStart, w.space = true, false
				continue
			case "pre":
				w.pre++
			case "li":
				w.newline()
				w.b.WriteString("- ")
				w.lineStart = false
			case "td", "th":
				w.space = true
			}
			if blockTags[n.Data] {
				w.newline()
			}
			stack = append(stack, item{n: n, exit: true})
		case html.DocumentNode:
		default: // comments, doctype
			continue
		}
		// Push children in reverse so the first is handled first.
		for c := n.LastChild; c != nil; c = c.PrevSibling {
			stack = append(stack, item{n: c})
		}
	}
	return w.String()
}

// String is the text so far. Non-breaking spaces are kept as words while
// writing, so that Outlook's <p>&nbsp;</p> still makes an empty line, and
// become plain spaces here.
func (w *textWriter) String() string {
	return strings.ReplaceAll(w.b.String(), "\u00a0", " ")
}
