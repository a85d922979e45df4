package intake

import (
	"strings"
	"testing"
)

func TestParseEmail(t *testing.T) {
	cases := []struct {
		name, raw      string
		from, fromName string
		text           string
		attachments    int
	}{
		{"encoded display name with a comma stays one author",
			"From: =?utf-8?q?Doe=2C_John?= <John@Client.test>\nSubject: hi\n\nhello\n",
			"john@client.test", "Doe, John", "hello", 0},
		{"two authors are no author",
			"From: a@x.test, b@x.test\nSubject: hi\n\nhello\n", "", "", "hello", 0},
		{"HTML only: quotes cut from the HTML",
			"From: a@x.test\nMIME-Version: 1.0\nContent-Type: text/html\n\n<div>New text</div><div class=\"gmail_quote\">On Mon, Nov 23, 2026 at 10:00 AM Ann &lt;ann@x.test&gt; wrote:<br><blockquote class=\"gmail_quote\">old</blockquote></div>\n",
			"a@x.test", "", "New text", 0},
		{"only a quote: the whole text is kept",
			"From: a@x.test\n\n> quoted only\n", "a@x.test", "", "> quoted only", 0},
		{"attachment listed",
			"From: a@x.test\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nsee attached\n--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename=a.pdf\n\n%PDF\n--b--\n",
			"a@x.test", "", "see attached", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := parseEmail([]byte(strings.ReplaceAll(tc.raw, "\n", "\r\n")))
			if e.From != tc.from || e.FromName != tc.fromName || strings.TrimSpace(e.Text) != tc.text || len(e.Attachments) != tc.attachments {
				t.Errorf("from=%q name=%q text=%q attachments=%+v", e.From, e.FromName, e.Text, e.Attachments)
			}
			if tc.attachments > 0 && (e.Attachments[0].Part != 1 || e.Attachments[0].Name != "a.pdf") {
				t.Errorf("attachment %+v", e.Attachments[0])
			}
		})
	}
}
