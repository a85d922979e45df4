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
// renders the quote elements of mail clients as "> " lines and leaves out
// attributions and signatures they mark, then applies StripText, which
// drops the quotes and catches what clients write without markup
// (Outlook's From:/Sent: block, "On ... wrote:"). Rendering quotes rather
// than deleting them keeps inline answers typed between them.
//
//   - Gmail: <blockquote class="gmail_quote"> is a quote, <div
//     class="gmail_attr"> the attribution, "gmail_signature" a signature;
//   - Apple Mail and Thunderbird: <blockquote type="cite">; Thunderbird's
//     <div class="moz-cite-prefix"> and "moz-signature";
//   - Outlook web and new Outlook: everything from <div id="appendonsend">
//     or <div id="divRplyFwdMsg"> on; Outlook for iOS/Mac: <div
//     id="mail-editor-reference-message-container">;
//   - Yahoo "yahoo_quoted" and Proton "protonmail_quote" are quotes.
//
// If that leaves nothing, it returns the whole text without quote marks
// (never empty for a body with text).
func StripHTML(src string) string {
	out, _ := splitHTML(src, false)
	return out
}

// SplitHTML returns the new text of an HTML body, as StripHTML, and what
// was removed, as text ("" when nothing was).
func SplitHTML(src string) (newText, quoted string) {
	return splitHTML(src, true)
}

func splitHTML(src string, withQuoted bool) (newText, quoted string) {
	if len(src) > MaxStripHTMLInput {
		src = src[:MaxStripHTMLInput]
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil { // only on reader errors; a strings.Reader has none
		out, q, _ := splitText(src, withQuoted)
		return out, q
	}
	rendered, rest := htmlText(doc, true)
	if rest != "" && startsForward(rest) {
		// Outlook's reply header also heads its forwards: a forward is
		// kept, note and forwarded email.
		rendered, rest = strings.TrimRight(rendered, "\n")+"\n\n"+rest, ""
	}
	if out, q, ok := splitText(rendered, withQuoted); ok {
		// Blank runs in rendered HTML come from its markup, not from
		// the person: they fold into one.
		out = strings.Join(foldBlank(strings.Split(out, "\n"), nil), "\n")
		if rest != "" && withQuoted {
			q = strings.TrimSpace(q + "\n" + rest)
		}
		return out, q
	}
	all, _ := htmlText(doc, false)
	return strings.TrimSpace(all), ""
}

var (
	quoteClasses  = []string{"gmail_quote", "yahoo_quoted", "protonmail_quote"}
	removeClasses = []string{"gmail_attr", "gmail_signature", "moz-cite-prefix", "moz-signature"}
	removeIDs     = []string{"mail-editor-reference-message-container"}
	// Outlook web's "appendonsend" and "divRplyFwdMsg", old Outlook.com's
	// "stopSpelling" rule, Zimbra's "zwchr" rule.
	stopIDs   = []string{"appendonsend", "divrplyfwdmsg", "stopspelling", "zwchr"}
	blockTags = map[string]bool{
		"p": true, "div": true, "li": true, "ul": true, "ol": true, "tr": true, "table": true,
		"h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true, "pre": true,
		"blockquote": true, "section": true, "article": true, "header": true, "footer": true,
		"dl": true, "dt": true, "dd": true, "address": true, "center": true, "hr": true, "body": true,
	}
	hiddenTags = map[string]bool{"head": true, "script": true, "style": true, "title": true, "template": true, "svg": true}
)

// isQuoteElement: the elements clients wrap a quoted message in. Gmail's
// class is on the blockquote; its outer <div class="gmail_quote"> also
// holds inline answers, so only the blockquote counts. Any other
// <blockquote> is a quote too (Yandex, Mail.ru, Zoho and old Hotmail
// write a bare or styled one; talon and quotequail read every blockquote
// as one), except the indent of rich-text editors, a blockquote drawn
// with no border (Gmail's "Indent more": "margin:0 0 0 40px;border:none"):
// that is the person's own paragraph.
func isQuoteElement(n *html.Node) bool {
	if n.Data == "blockquote" {
		if strings.EqualFold(attr(n, "type"), "cite") || hasClass(n, quoteClasses) {
			return true
		}
		return !isIndent(attr(n, "style"))
	}
	return n.Data == "div" && hasClass(n, quoteClasses[1:])
}

// isIndent: a blockquote's style draws no border ("border:none",
// "border: 0"), as editors write for an indented paragraph.
func isIndent(style string) bool {
	s := strings.ToLower(strings.ReplaceAll(style, " ", ""))
	return strings.Contains(s, "border:none") || strings.Contains(s, "border:0;") || strings.HasSuffix(s, "border:0")
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

// hasClass: n has one of classes, or a class ending in one (Yahoo
// prefixes its own: "ydp3f2a1b9yahoo_quoted").
func hasClass(n *html.Node, classes []string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		for _, x := range classes {
			if strings.HasSuffix(c, x) {
				return true
			}
		}
	}
	return false
}

func oneOf(s string, list []string) bool {
	for _, x := range list {
		if s == x {
			return true
		}
	}
	return false
}

// textWriter builds text from HTML: block elements start lines, white
// space collapses outside <pre>, no line starts with a space, and lines
// inside quote elements start with one ">" per level.
type textWriter struct {
	b         strings.Builder
	lineStart bool
	space     bool
	pre       int
	quote     int
}

func (w *textWriter) newline() {
	if !w.lineStart {
		w.b.WriteByte('\n')
	}
	w.lineStart, w.space = true, false
}

// startLine writes the quote marks before the first text of a line.
func (w *textWriter) startLine() {
	if w.lineStart && w.quote > 0 {
		w.b.WriteString(strings.Repeat(">", min(w.quote, 32)))
		w.b.WriteByte(' ')
	}
	w.lineStart = false
}

func (w *textWriter) text(s string) {
	if w.pre > 0 {
		for i, line := range strings.Split(s, "\n") {
			if i > 0 {
				w.b.WriteByte('\n')
				w.lineStart = true
			}
			if line != "" {
				w.startLine()
				w.b.WriteString(line)
			}
		}
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
		w.startLine()
		w.b.WriteString(f)
	}
	if len(fields) > 0 {
		w.space = isHTMLSpace(rune(s[len(s)-1]))
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f'
}

// htmlText renders doc as text. With markQuotes it marks quotes with ">"
// and leaves out the attribution and signature elements StripHTML lists;
// from a stop element on (Outlook's reply header) the text goes to rest.
// The walk is iterative, so deeply nested input cannot exhaust the stack.
func htmlText(doc *html.Node, markQuotes bool) (text, rest string) {
	type item struct {
		n    *html.Node
		exit bool
	}
	var main, tail textWriter
	main.lineStart, tail.lineStart = true, true
	w := &main
	stack := []item{{n: doc}}
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := it.n
		if it.exit {
			if n.Data == "pre" && w.pre > 0 {
				w.pre--
			}
			if markQuotes && isQuoteElement(n) && w.quote > 0 {
				w.newline()
				w.quote--
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
			if markQuotes {
				id := strings.ToLower(attr(n, "id"))
				if w == &main && (oneOf(id, stopIDs) || isOutlookHeaderDiv(n)) {
					w = &tail
				}
				// Gmail's forward head sits in a gmail_attr too: it stays, so
				// the forward is seen as one.
				if (hasClass(n, removeClasses) && !strings.HasPrefix(leadingText(n, 40), "--")) || oneOf(id, removeIDs) {
					continue
				}
				if isQuoteElement(n) {
					w.newline()
					w.quote++
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
	return main.String(), strings.TrimSpace(tail.String())
}

// isOutlookHeaderDiv: Outlook desktop puts the quoted message's header
// in <div style="border:none;border-top:solid #E1E1E1 1.0pt;...">
// starting "From:" (or its translation). The style alone is not enough:
// people's own text has borders too.
func isOutlookHeaderDiv(n *html.Node) bool {
	if n.Data != "div" {
		return false
	}
	// "border-top:solid #E1E1E1 1.0pt" (Windows), "border-top: 1pt solid
	// rgb(181, 196, 223)" (Mac): a solid top border in either order.
	style := strings.ToLower(attr(n, "style"))
	i := strings.Index(style, "border-top:")
	if i < 0 {
		return false
	}
	decl, _, _ := strings.Cut(style[i:], ";")
	if !strings.Contains(decl, "solid") {
		return false
	}
	return headerClass(leadingText(n, 80)) == hFrom
}

// leadingText is the first max bytes of the text inside n.
func leadingText(n *html.Node, max int) string {
	var b strings.Builder
	stack := []*html.Node{n}
	for len(stack) > 0 && b.Len() < max {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c.Type == html.TextNode {
			b.WriteString(strings.ReplaceAll(c.Data, "\u00a0", " "))
			continue
		}
		for k := c.LastChild; k != nil; k = k.PrevSibling {
			stack = append(stack, k)
		}
	}
	return strings.TrimSpace(b.String())
}

// String is the text so far. Non-breaking spaces are kept as words while
// writing, so that Outlook's <p>&nbsp;</p> still makes an empty line, and
// become plain spaces here.
func (w *textWriter) String() string {
	return strings.ReplaceAll(w.b.String(), "\u00a0", " ")
}

// startsForward: text starts with a forwarded message's head.
func startsForward(text string) bool {
	lines := strings.SplitN(text, "\n", 16)
	for i, l := range lines {
		if !isBlank(l) {
			return isForward(lines, i)
		}
	}
	return false
}
