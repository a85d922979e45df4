package intake

import (
	"strings"

	"github.com/inbucket/html2text"

	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/threading"
)

// splitBody is the new text of a reply, as appended to the conversation,
// and what stripping removed: the plain part when there is one, else the
// HTML part (a generic HTML-to-text conversion loses the quote markup
// StripHTML cuts on). When stripping leaves nothing the whole text is the
// message. quoted is built only withQuoted (explain); the pipeline needs
// the text.
func splitBody(b mailmsg.Body, withQuoted bool) (text, quoted string) {
	switch {
	case (b.HasPlain || b.HTML == "") && withQuoted:
		text, quoted = threading.SplitText(b.Plain)
	case b.HasPlain || b.HTML == "":
		text = threading.StripText(b.Plain)
	case withQuoted:
		text, quoted = threading.SplitHTML(b.HTML)
	default:
		text = threading.StripHTML(b.HTML)
	}
	if strings.TrimSpace(text) == "" {
		// Only here is a generic HTML-to-text conversion worth its cost.
		full := b.Plain
		if full == "" && b.HTML != "" {
			full, _ = html2text.FromString(b.HTML)
		}
		text, quoted = strings.TrimSpace(full), ""
	}
	if len(text) > model.MaxTextBytes {
		text = strings.ToValidUTF8(text[:model.MaxTextBytes], "")
	}
	return text, quoted
}

// BodyExplanation is what threading would append to the conversation
// from an email, and what it cut (`deskmail explain --json`).
type BodyExplanation struct {
	Text   string `json:"text"`
	Quoted string `json:"quoted"`
}

// ExplainBody strips raw's body as the pipeline does, offline.
func ExplainBody(raw []byte) (b BodyExplanation, err error) {
	b.Text, b.Quoted = splitBody(mailmsg.Parse(raw, mailmsg.Limits{}).Body(), true)
	return b, nil
}
