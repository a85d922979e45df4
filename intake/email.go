package intake

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/jhillyerd/enmime/v2"

	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/model"
)

// Limits on what threading reads from one email.
const (
	// maxThreadBytes is how much of a stored email the threading step
	// reads: DKIM needs the whole body, so this is above the default
	// max-message-bytes; a larger message is checked on a prefix (its
	// body hash then fails, which is the safe side).
	maxThreadBytes = 40 << 20
	// maxAddresses per To or Cc header.
	maxAddresses = 100
	// maxAttachments listed on a message.
	maxAttachments = 100
	// maxIDs read from In-Reply-To and References together.
	maxIDs = 100
)

var emailParser = enmime.NewParser(
	// A declared charset is believed, as mail clients do; detection runs
	// only for text parts that declare none. Detecting on every part was a
	// quarter of the pipeline's CPU (chardet's n-gram tables), and on short
	// texts it second-guesses a correct declaration.
	enmime.DisableCharacterDetection(true),
	enmime.SkipMalformedParts(true),
	enmime.MultipartWOBoundaryAsSinglePart(true),
	enmime.SetReadPartErrorPolicy(enmime.AllowCorruptTextPartErrorPolicy),
	enmime.MaxStoredPartErrors(8),
)

// email is what threading takes from a stored message.
type email struct {
	From, FromName string // "" when From is missing or names several authors
	To, Cc         []string
	MessageID      string // its own, as every step reads it (mailmsg)
	InReplyTo      []string
	References     []string
	Subject        string
	Text           string // the new text, quotes and signature cut
	Attachments    []model.Attachment
}

// parseEmail parses raw once (mailmsg) and reads what threading needs.
func parseEmail(raw []byte) (email, error) {
	return emailOf(mailmsg.Parse(raw, mailmsg.Limits{}), raw)
}

// emailOf reads what threading needs from msg, the one parse of the
// email: the author (never attributed when mailmsg found none or an
// ambiguous one), recipients, the threading fields, the subject. The text
// and the attachments are read from raw. It fails only when the body
// cannot be read at all.
func emailOf(msg *mailmsg.Message, raw []byte) (e email, err error) {
	defer func() {
		// A panic in a third-party parser on hostile input must cost one
		// message its threading, not the daemon.
		if r := recover(); r != nil {
			err = fmt.Errorf("parse email: panic: %v", r)
		}
	}()
	env, err := emailParser.ReadEnvelope(bytes.NewReader(raw))
	if err != nil {
		return email{}, fmt.Errorf("parse email: %w", err)
	}
	// RFC 5322 section 3.6.2: From may list several authors; then no one
	// of them is the author we could attribute to. Nor is anyone when two
	// From fields (in any spelling) name two (mailmsg.Message.NoAuthor).
	if msg.Author != nil {
		e.From, e.FromName = msg.Author.Addr, msg.Author.Name
	}
	e.To = addrs(msg.To)
	e.Cc = addrs(msg.Cc)
	e.MessageID, e.InReplyTo, e.References = msg.MessageID, msg.InReplyTo, msg.References
	e.Subject = msg.Subject
	e.Text = bodyText(env)
	e.Attachments = attachments(env)
	return e, nil
}

func addrs(as []mailmsg.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Addr)
	}
	return out
}

// bodyText is the new text of the reply (splitBody).
func bodyText(env *enmime.Envelope) string {
	text, _ := splitBody(env, false)
	return text
}

// attachments lists the attachment parts by their position among the
// leaves of the MIME tree (depth first), which is how the bytes are found
// again in the stored original.
func attachments(env *enmime.Envelope) []model.Attachment {
	if env.Root == nil {
		return nil
	}
	var out []model.Attachment
	leaf := 0
	var walk func(p *enmime.Part, depth int)
	walk = func(p *enmime.Part, depth int) {
		if depth > 20 || len(out) >= maxAttachments {
			return
		}
		if p.FirstChild == nil {
			if p.Disposition == "attachment" || (p.FileName != "" && !strings.HasPrefix(p.ContentType, "text/")) {
				name := p.FileName
				if len(name) > 255 {
					name = strings.ToValidUTF8(name[:255], "")
				}
				out = append(out, model.Attachment{Name: name, ContentType: p.ContentType, Size: int64(len(p.Content)), Part: leaf})
			}
			leaf++
			return
		}
		for c := p.FirstChild; c != nil; c = c.NextSibling {
			walk(c, depth+1)
		}
	}
	walk(env.Root, 0)
	return out
}
