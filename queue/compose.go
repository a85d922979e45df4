package queue

import (
	"bytes"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
	"github.com/deskmail/deskmail/threading"
)

// Mailer composes the notification email of a job (it is the Composer of
// the daemon). Every email carries what makes a reply find its way back
// (SPEC section 6): Reply-To reply+TOKEN@Domain, a Message-ID of the
// threading scheme (indexed to the conversation), In-Reply-To and
// References to the conversation's thread root, the subject tag, and the
// loop guard's marker.
type Mailer struct {
	Keyring *threading.Keyring
	// Domain is the domain of the Message-ID and the VERP address.
	Domain string
	// ReplyDomain is the domain of the reply+TOKEN address (default Domain).
	ReplyDomain string
	// From is the header sender, "Helpdesk <help@example.com>".
	From mail.Address
	// Marker returns the value of loopguard.MarkerHeader for a Message-ID
	// ("" writes no header).
	Marker func(messageID string) string
	// MarkerHeader is the header name of the marker.
	MarkerHeader string
	// Intro returns the text of the built-in message automation, written
	// at the top of a notification email (nil or "": none).
	Intro func(tx *store.Tx) string
	// RecipientCap bounds the system emails to one external address per
	// hour (loopguard.RecipientCap); zero Max: no cap.
	RecipientCap loopguard.RecipientCap
}

// Compose implements Composer.
func (m *Mailer) Compose(tx *store.Tx, j *Job, now time.Time) ([]byte, error) {
	conv, err := model.GetConversation(tx, j.Conversation)
	if err != nil {
		return nil, err
	}
	if conv.RootID == "" {
		// The thread root is made when the conversation first emails,
		// and kept (PutConversation indexes it), see threading.Thread.
		conv.RootID = m.Keyring.MessageID(m.Domain)
		tx.Own(model.MessageIDLock(conv.RootID))
		if err := model.PutConversation(tx, &conv); err != nil {
			return nil, fmt.Errorf("thread root: %w", err)
		}
	}
	person, err := model.GetPerson(tx, j.Person)
	if err != nil {
		return nil, err
	}
	n := templates.Notification{RecipientName: person.Name, Topic: threading.NormalizeSubject(conv.Subject)}
	if n.Topic == "" {
		n.Topic = threading.FormatTag(conv.Tag)
	}
	for _, id := range j.Messages {
		msg, err := model.GetMessage(tx, id)
		if err != nil {
			return nil, err
		}
		author, err := m.authorName(tx, msg.Author)
		if err != nil {
			return nil, err
		}
		text := msg.Text
		if strings.TrimSpace(text) == "" && msg.HTML != "" {
			text = threading.StripHTML(msg.HTML)
		}
		n.Messages = append(n.Messages, templates.Message{Author: author, Time: msg.Created, Text: text})
	}
	// The notification template may have been edited (SPEC section 8);
	// every saved version rendered with the sample data, so it renders here.
	tpl, err := templates.Get(tx, templates.NotificationName)
	if err != nil {
		return nil, err
	}
	n.Org = m.From.Name
	if m.Intro != nil {
		n.Intro = m.Intro(tx)
	}
	textBody, htmlBody, err := templates.RenderNotificationWith(tpl, n)
	if err != nil {
		return nil, fmt.Errorf("render: %w", err)
	}
	replyDomain := m.ReplyDomain
	if replyDomain == "" {
		replyDomain = m.Domain
	}
	replyTo, err := m.Keyring.ReplyAddress(conv.ID, person.ID, replyDomain)
	if err != nil {
		return nil, fmt.Errorf("reply address: %w", err)
	}
	j.MessageID = m.Keyring.MessageID(m.Domain)
	tx.Own(model.MessageIDLock(j.MessageID))
	if err := model.IndexMessageID(tx, j.MessageID, conv.ID); err != nil {
		return nil, err
	}
	j.From = VERPAddress(j.ID, m.Domain)
	j.Subject = threading.ThreadSubject(conv.Subject, conv.Tag)
	th := threading.BuildThreadHeaders(threading.Thread{RootID: conv.RootID, Topic: conv.Subject,
		Started: conv.Created, Now: now})

	var b bytes.Buffer
	h := headerWriter{&b}
	h.add("Date", now.Format(time.RFC1123Z))
	h.add("From", m.From.String())
	h.add("To", (&mail.Address{Name: person.Name, Address: j.To}).String())
	h.add("Reply-To", (&mail.Address{Name: m.From.Name, Address: replyTo}).String())
	h.add("Subject", encodeText(j.Subject))
	h.add("Message-ID", "<"+j.MessageID+">")
	h.add("In-Reply-To", th.InReplyTo)
	h.add("References", th.References)
	h.add("Thread-Topic", encodeText(th.ThreadTopic))
	h.add("Thread-Index", th.ThreadIndex)
	// RFC 3834 §5: machine-written mail, so auto-responders stay quiet;
	// X-Auto-Response-Suppress is Exchange's word for the same.
	h.add("Auto-Submitted", "auto-generated")
	h.add("X-Auto-Response-Suppress", "All")
	if m.Marker != nil && m.MarkerHeader != "" {
		h.add(m.MarkerHeader, m.Marker(j.MessageID))
	}
	if err := writeAlternative(&b, textBody, htmlBody); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeAlternative ends the header with MIME-Version and Content-Type and
// writes the text and HTML bodies as a multipart/alternative, each part
// quoted-printable.
func writeAlternative(b *bytes.Buffer, textBody, htmlBody string) error {
	h := headerWriter{b}
	h.add("MIME-Version", "1.0")
	mw := multipart.NewWriter(b)
	h.add("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	b.WriteString("\r\n")
	for _, part := range []struct{ ctype, body string }{
		{"text/plain; charset=utf-8", textBody}, {"text/html; charset=utf-8", htmlBody},
	} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {part.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"}})
		if err != nil {
			return err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(strings.ReplaceAll(part.body, "\n", "\r\n"))); err != nil {
			return err
		}
		if err := qp.Close(); err != nil {
			return err
		}
	}
	if err := mw.Close(); err != nil {
		return err
	}
	return nil
}

// encodeText makes a header's free text safe: control characters (CR and
// LF above all, which would start a new header) become spaces, and
// non-ASCII text is RFC 2047 encoded.
func encodeText(s string) string {
	return mime.QEncoding.Encode("utf-8", sanitize(s))
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

type headerWriter struct{ b *bytes.Buffer }

// add writes "Name: value", folded at spaces so lines stay under 78
// characters where possible (RFC 5322 §2.1.1). The value is sanitized
// once more: no caller can inject a header.
func (h headerWriter) add(name, value string) {
	value = sanitize(value)
	if value == "" {
		return
	}
	line := len(name) + 2
	h.b.WriteString(name + ": ")
	for i, word := range strings.Split(value, " ") {
		if i > 0 {
			if line+1+len(word) > 78 {
				h.b.WriteString("\r\n")
				line = 0
			}
			h.b.WriteByte(' ')
			line++
		}
		h.b.WriteString(word)
		line += len(word)
	}
	h.b.WriteString("\r\n")
}
