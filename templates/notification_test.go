package templates

import (
	"strings"
	"testing"
	"time"
)

func TestRenderNotification(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		n         Notification
		inText    []string
		inHTML    []string
		notInHTML []string
	}{
		{"one message", Notification{RecipientName: "Ann", Topic: "Printer",
			Messages: []Message{{Author: "Agent", Time: at, Text: "hello\r\nthere"}}},
			[]string{"Hello Ann,", "There is a new message in \"Printer\"", "--- Agent, 25 Nov 2026 12:00 UTC", "hello\nthere"},
			[]string{"<strong>Agent</strong>"}, nil},
		{"three messages", Notification{Topic: "T", Messages: []Message{{Text: "a"}, {Text: "b"}, {Text: "c"}}},
			[]string{"Hello,", "There are 3 new messages"}, []string{"There are 3 new messages"}, nil},
		{"markup in a message is escaped", Notification{Topic: "<i>t</i>", Messages: []Message{{Author: "<script>", Text: "<b>x</b>"}}},
			[]string{"<b>x</b>"}, []string{"&lt;b&gt;x&lt;/b&gt;", "&lt;script&gt;"}, []string{"<b>x</b>", "<script>", "<i>t</i>"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text, html, err := RenderNotification(tc.n)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.inText {
				if !strings.Contains(text, s) {
					t.Errorf("text lacks %q:\n%s", s, text)
				}
			}
			for _, s := range tc.inHTML {
				if !strings.Contains(html, s) {
					t.Errorf("HTML lacks %q:\n%s", s, html)
				}
			}
			for _, s := range tc.notInHTML {
				if strings.Contains(html, s) {
					t.Errorf("HTML has %q:\n%s", s, html)
				}
			}
		})
	}
}
