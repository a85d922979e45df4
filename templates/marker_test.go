package templates

import (
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/threading"
)

func TestNotificationCarriesReplyMarker(t *testing.T) {
	text, html, err := RenderNotification(Notification{Org: "Help", RecipientName: "Ann", Topic: "Printer",
		Messages: []Message{{Author: "Sam", Time: time.Date(2026, 11, 23, 10, 15, 0, 0, time.UTC), Text: "Is it fixed?"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(text, threading.ReplyMarker+"\n") {
		t.Errorf("text does not start with the marker:\n%s", text)
	}
	if !strings.Contains(html, threading.ReplyMarker) {
		t.Errorf("html has no marker:\n%s", html)
	}
	// A reply that quotes the notification, and one that does not quote it
	// (Outlook), both come back as the reply alone.
	quoted := "Yes, fixed.\n\nOn Mon, Nov 23, 2026 at 10:15 AM Help <reply+x@help.example.com> wrote:\n> " +
		strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n> ")
	unquoted := "Yes, fixed.\n\n" + text
	for _, in := range []string{quoted, unquoted} {
		if got := threading.StripText(in); got != "Yes, fixed." {
			t.Errorf("StripText of a reply to the notification = %q", got)
		}
	}
	if got := threading.StripHTML("<div>Yes, fixed.</div>" + html); got != "Yes, fixed." {
		t.Errorf("StripHTML of a reply above the notification = %q", got)
	}
}

func TestWarningsWhenMarkerDropped(t *testing.T) {
	d, _ := Default(NotificationName)
	if w := Warnings(d); len(w) != 0 {
		t.Fatalf("default template warns: %v", w)
	}
	edited := d
	edited.Text = strings.Replace(d.Text, threading.ReplyMarker+"\n", "", 1)
	if err := Validate(edited); err != nil {
		t.Fatalf("an edit without the marker must still be valid: %v", err)
	}
	w := Warnings(edited)
	if len(w) != 1 || !strings.HasPrefix(w[0], "text: ") || !strings.Contains(w[0], "##-") {
		t.Fatalf("warnings = %q, want one about the text part", w)
	}
	// Translated, the marker is kept: no warning.
	edited.Text = strings.Replace(d.Text, threading.ReplyMarker, "##- Bitte oberhalb dieser Zeile antworten -##", 1)
	if w := Warnings(edited); len(w) != 0 {
		t.Fatalf("translated marker warns: %v", w)
	}
	// Templates whose default has no marker never warn.
	welcome, _ := Default(Welcome)
	if w := Warnings(welcome); len(w) != 0 {
		t.Fatalf("welcome warns: %v", w)
	}
}
