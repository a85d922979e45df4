package gateway

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
func splitBody(env *enmime.Envelope) (text, quoted string) {
	hasPlain := env.Root != nil && env.Root.DepthMatchFirst(func(p *enmime.Part) bool {
		return p.ContentType == "text/plain" && p.Disposition != "attachment"
	}) != nil
	var full string
	switch {
	case hasPlain || env.HTML == "":
		full = env.Text
		text, quoted = threading.SplitText(env.Text)
	default:
		full = env.Text
		text, quoted = threading.SplitHTML(env.HTML)
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
	b.Text, b.Quoted = splitBody(env)
	return b, nil
}
