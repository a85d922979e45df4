package mailmsg

import "strings"

// Body is what an email says in text, chosen among its decoded text
// parts the way mail clients (and enmime, which deskmail used before)
// choose:
//
//   - Plain: in a multipart/alternative, the first text/plain part (not
//     an attachment) breadth first; in other multiparts every such part,
//     depth first, joined by "\n--\n"; in a single-part email its text.
//   - HTML: the first text/html part that is not an attachment, depth
//     first.
//   - HasPlain: there is a text/plain part that is not an attachment.
type Body struct {
	Plain, HTML string
	HasPlain    bool
}

// Body returns the email's Body.
func (m *Message) Body() Body {
	var b Body
	root := m.Root
	if root == nil {
		return b
	}
	isPlain := func(p *Part) bool { return p.Leaf >= 0 && p.MediaType == "text/plain" && p.Disposition != "attachment" }
	isHTML := func(p *Part) bool { return p.Leaf >= 0 && p.MediaType == "text/html" && p.Disposition != "attachment" }
	if root.Leaf >= 0 {
		switch {
		case root.MediaType == "text/html":
			b.HTML = root.Text
		case isPlain(root):
			b.Plain, b.HasPlain = root.Text, true
		}
		return b
	}
	if root.MediaType == "multipart/alternative" {
		if p := breadthFirst(root, isPlain); p != nil {
			b.Plain = p.Text
		}
	} else {
		var texts []string
		for _, p := range m.Leaves {
			if isPlain(p) {
				texts = append(texts, p.Text)
			}
		}
		b.Plain = strings.Join(texts, "\n--\n")
	}
	for _, p := range m.Leaves {
		if isPlain(p) {
			b.HasPlain = true
		}
		if b.HTML == "" && isHTML(p) {
			b.HTML = p.Text
		}
	}
	return b
}

// breadthFirst returns the first part under root, root included, that
// match accepts, level by level.
func breadthFirst(root *Part, match func(*Part) bool) *Part {
	level := []*Part{root}
	for len(level) > 0 {
		var next []*Part
		for _, p := range level {
			if match(p) {
				return p
			}
			next = append(next, p.Children...)
		}
		level = next
	}
	return nil
}
