package intake

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/deskmail/deskmail/model"
)

// FuzzParseEmail: any bytes give an email or an error, never a panic,
// and the limits hold.
func FuzzParseEmail(f *testing.F) {
	files, _ := filepath.Glob("../loopguard/testdata/*.eml")
	for i, name := range files {
		if i == 20 {
			break
		}
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("From: =?utf-8?q?a=2C_b?= <a@b>\r\nReferences: <x@y> <z@w>\r\n\r\n> q\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		e := parseEmail(raw)
		if len(e.To) > maxAddresses || len(e.Cc) > maxAddresses || len(e.InReplyTo)+len(e.References) > maxIDs ||
			len(e.Attachments) > maxAttachments || len(e.Text) > model.MaxTextBytes {
			t.Fatalf("limits exceeded: %d %d %d %d %d", len(e.To), len(e.Cc), len(e.InReplyTo)+len(e.References), len(e.Attachments), len(e.Text))
		}
	})
}
