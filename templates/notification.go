// Package templates renders the emails deskmail writes. For now it holds
// the notification email of the hold queue (SPEC section 4): one email
// listing a conversation's messages that a recipient did not see in time,
// as a text part and an HTML part. The templates are embedded, so the
// binary needs no files; html/template escapes every value in the HTML
// part, so a message's text can never inject markup.
package templates

import (
	"bytes"
	"embed"
	htmltemplate "html/template"
	"slices"
	"strings"
	texttemplate "text/template"
	"time"
)

//go:embed notification/*.tmpl
var files embed.FS

var (
	notificationText = texttemplate.Must(texttemplate.ParseFS(files, "notification/notification.txt.tmpl"))
	notificationHTML = htmltemplate.Must(htmltemplate.ParseFS(files, "notification/notification.html.tmpl"))
)

// Notification is what the notification email says.
type Notification struct {
	RecipientName string
	Topic         string // the conversation's subject, shown in the body
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

// RenderNotification returns the text and HTML bodies of n.
func RenderNotification(n Notification) (text, html string, err error) {
	n.Messages = slices.Clone(n.Messages)
	for i := range n.Messages {
		t := strings.ReplaceAll(n.Messages[i].Text, "\r\n", "\n")
		if len(t) > MaxMessageText {
			t = strings.ToValidUTF8(t[:MaxMessageText], "") + "\n[...]"
		}
		n.Messages[i].Text = strings.TrimSpace(t)
	}
	var tb, hb bytes.Buffer
	if err := notificationText.Execute(&tb, n); err != nil {
		return "", "", err
	}
	if err := notificationHTML.Execute(&hb, n); err != nil {
		return "", "", err
	}
	return tb.String(), hb.String(), nil
}
