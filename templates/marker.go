package templates

import "github.com/deskmail/deskmail/threading"

// The notification email is the one people answer (its Reply-To carries
// the reply token; system emails have none), so its default text and HTML
// start with the reply marker, threading.ReplyMarker: the stripper cuts a
// reply at it before any other rule. An admin may drop or translate it:
// saving still works, but Warnings says what is lost.

// Warnings returns what is worth knowing about a valid template before
// it is used: today, a part of an answerable template (one whose default
// carries the reply marker) that lost the marker.
func Warnings(t Template) []string {
	d, ok := Default(t.Name)
	if !ok {
		return nil
	}
	var out []string
	for _, p := range []struct{ name, def, cur string }{{"text", d.Text, t.Text}, {"html", d.HTML, t.HTML}} {
		if threading.HasReplyMarker(p.def) && !threading.HasReplyMarker(p.cur) {
			out = append(out, p.name+": the reply marker line (\""+threading.ReplyMarker+
				"\") is missing; replies are then trimmed by quote detection alone (keep a line starting \""+
				threading.ReplyMarkerPrefix+"\", in any language)")
		}
	}
	return out
}
