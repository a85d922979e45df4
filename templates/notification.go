// Package templates renders the emails deskmail writes (SPEC section 8):
// the system emails (welcome, password reset, assignment change, new
// member, invitation, and the notification email of the hold queue,
// SPEC section 4) and the templates automations send. A Template is a
// subject and text and HTML bodies, Go templates over Data; html/template
// escapes every value in the HTML part, so a name or a message's text can
// never inject markup.
//
// The defaults are embedded, so the binary needs no files. Edits are
// stored with their history (store.go); every save is parsed and rendered
// with Sample first, and a template that fails is refused with an *Error
// naming the part and line, the previous version staying current.
package templates

import (
	"embed"
	"strings"
	"time"
)

//go:embed notification/*.tmpl
var files embed.FS

// Notification is what the notification email says.
type Notification struct {
	Org           string // the helpdesk's name
	RecipientName string
	Topic         string // the conversation's subject, shown in the body
	Intro         string // the built-in message automation's text (SPEC section 8)
	Messages      []Message
}

// Message is one message listed in a notification email.
type Message struct {
	Author string
	Time   time.Time
	Text   string
}

// MaxMessageText bounds each message's text in an email: the web app has
// the rest, and a notification is not an archive.
const MaxMessageText = 64 << 10

// RenderNotification returns the text and HTML bodies of n with the
// default template.
func RenderNotification(n Notification) (text, html string, err error) {
	t, _ := Default(NotificationName)
	return RenderNotificationWith(t, n)
}

// RenderNotificationWith returns the text and HTML bodies of n with t (the
// current "notification" template, see Get).
func RenderNotificationWith(t Template, n Notification) (text, html string, err error) {
	msgs := make([]MessageData, len(n.Messages))
	for i, m := range n.Messages {
		t := strings.ReplaceAll(m.Text, "\r\n", "\n")
		if len(t) > MaxMessageText {
			t = strings.ToValidUTF8(t[:MaxMessageText], "") + "\n[...]"
		}
		m.Text = strings.TrimSpace(t)
		msgs[i] = messageData(m)
	}
	r, err := Render(t, Data{Org: n.Org, RecipientName: n.RecipientName, Topic: n.Topic, Text: n.Intro, Messages: msgs})
	if err != nil {
		return "", "", err
	}
	return r.Text, r.HTML, nil
}
