package intake

import (
	"bytes"
	"fmt"
	"github.com/emersion/go-message/charset"
	"mime"
	"net/mail"
	"strings"

	"github.com/jhillyerd/enmime/v2"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/threading"
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
	InReplyTo      []string
	References     []string
	Subject        string
	Text           string // the new text, quotes and signature cut
	Attachments    []model.Attachment
}

// parseEmail reads the parts of raw that threading needs. It fails only
// when not even the header can be read.
func parseEmail(raw []byte) (e email, err error) {
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
	// Addresses are parsed from the raw header (net/mail decodes RFC 2047
	// words inside display names itself); decoding first would turn an
	// encoded "Doe, John" into two addresses.
	h := mail.Header(env.Root.Header)
	// RFC 5322 section 3.6.2: From may list several authors; then no one
	// of them is the author we could attribute to.
	if as, err := addressParser.ParseList(h.Get("From")); err == nil && len(as) == 1 {
		e.From, e.FromName = strings.ToLower(as[0].Address), as[0].Name
	}
	e.To = addresses(h, "To")
	e.Cc = addresses(h, "Cc")
	e.InReplyTo = capIDs(threading.ParseMessageIDs(h.Get("In-Reply-To")), maxIDs)
	e.References = capIDs(threading.ParseMessageIDs(h.Get("References")), maxIDs-len(e.InReplyTo))
	e.Subject = env.GetHeader("Subject")
	e.Text = bodyText(env)
	e.Attachments = attachments(env)
	return e, nil
}

// addressParser decodes RFC 2047 words of display names in every charset
// go-message's charset package knows (GB2312, GBK, Big5, ISO-2022-JP,
// Shift_JIS, EUC-KR, KOI8-R, windows-125x...); net/mail alone knows UTF-8
// and ISO-8859-1, and failed the whole From of other charsets.
var addressParser = mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader}}

func addresses(h mail.Header, name string) []string {
	as, _ := addressParser.ParseList(h.Get(name))
	var out []string
	for i, a := range as {
		if i == maxAddresses {
			break
		}
		out = append(out, a.Address)
	}
	return out
}

// capIDs keeps the newest n IDs (References lists oldest first).
func capIDs(ids []string, n int) []string {
	if n < 0 {
		n = 0
	}
	if len(ids) > n {
		return ids[len(ids)-n:]
	}
	return ids
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
