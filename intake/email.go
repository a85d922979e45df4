package intake

import (
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
	maxAddresses = mailmsg.DefaultMaxAddresses
	// maxAttachments listed on a message.
	maxAttachments = mailmsg.DefaultMaxAttachments
	// maxIDs read from In-Reply-To and References together.
	maxIDs = mailmsg.DefaultMaxIDs
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
func parseEmail(raw []byte) email {
	return emailOf(mailmsg.Parse(raw, mailmsg.Limits{}))
}

// emailOf reads what threading needs from msg, the one parse of the
// email: the author (never attributed when mailmsg found none or an
// ambiguous one), recipients, the threading fields, the subject, the new
// text and the attachments. It reads a parse, so it cannot fail.
func emailOf(msg *mailmsg.Message) (e email) {
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
	e.Text, _ = splitBody(msg.Body(), false)
	for _, a := range msg.Attachments {
		e.Attachments = append(e.Attachments, model.Attachment{Name: a.Name, ContentType: a.ContentType, Size: a.Size, Part: a.Part})
	}
	return e
}

func addrs(as []mailmsg.Address) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Addr)
	}
	return out
}
