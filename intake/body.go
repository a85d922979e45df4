package intake

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/jhillyerd/enmime/v2"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/threading"
)

// splitBody is the new text of a reply, as appended to the conversation,
// and what stripping removed: the plain part when there is one, else the
// HTML part (enmime's own HTML-to-text loses the quote markup StripHTML
// cuts on). When stripping leaves nothing the whole text is the message.
// quoted is built only withQuoted (explain); the pipeline needs the text.
func splitBody(env *enmime.Envelope, withQuoted bool) (text, quoted string) {
	hasPlain := env.Root != nil && env.Root.DepthMatchFirst(func(p *enmime.Part) bool {
		return p.ContentType == "text/plain" && p.Disposition != "attachment"
	}) != nil
	full := env.Text
	switch {
	case (hasPlain || env.HTML == "") && withQuoted:
		text, quoted = threading.SplitText(env.Text)
	case hasPlain || env.HTML == "":
		text = threading.StripText(env.Text)
	case withQuoted:
		text, quoted = threading.SplitHTML(env.HTML)
	default:
		text = threading.StripHTML(env.HTML)
	}
	if strings.TrimSpace(text) == "" {
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
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("parse email: panic: %v", r)
		}
	}()
	env, err := emailParser.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return BodyExplanation{}, fmt.Errorf("parse email: %w", err)
	}
	b.Text, b.Quoted = splitBody(env, true)
	return b, nil
}
