package e2e

import (
	"encoding/base64"
	"fmt"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/korean"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// A person's email reaches its conversation under the right name whatever
// charset the From's display name is encoded in (issue 22): the RFC 2047
// words are unquoted, as Outlook in Chinese, Japanese webmail and Russian
// clients write them, and each becomes a new customer with that name.
func TestFromInEveryCharsetReachesItsConversation(t *testing.T) {
	p := startInProcess(t, fakeDNS{})
	for i, tc := range []struct {
		charset string
		enc     encoding.Encoding
		name    string
	}{
		{"GB2312", simplifiedchinese.GBK, "张伟"},
		{"GBK", simplifiedchinese.GBK, "王秀英"},
		{"Big5", traditionalchinese.Big5, "陳大文"},
		{"ISO-2022-JP", japanese.ISO2022JP, "山田太郎"},
		{"Shift_JIS", japanese.ShiftJIS, "鈴木一郎"},
		{"EUC-KR", korean.EUCKR, "김민준"},
		{"KOI8-R", charmap.KOI8R, "Иван Петров"},
		{"windows-1250", charmap.Windows1250, "Łukasz Żółw"},
		{"windows-1251", charmap.Windows1251, "Олена Коваль"},
		{"windows-1252", charmap.Windows1252, "Zoë Müller"},
		{"windows-1253", charmap.Windows1253, "Γιώργος"},
	} {
		t.Run(tc.charset, func(t *testing.T) {
			b, err := tc.enc.NewEncoder().String(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			word := "=?" + tc.charset + "?B?" + base64.StdEncoding.EncodeToString([]byte(b)) + "?="
			addr := fmt.Sprintf("c%d@client.test", i)
			id := fmt.Sprintf("cs%d@client.test", i)
			p.send(t, addr, []string{"support@example.test"}, email(id, []string{
				"From: " + word + " <" + addr + ">", "To: support@example.test",
				"Subject: =?" + tc.charset + "?B?" + base64.StdEncoding.EncodeToString([]byte(b)) + "?=",
				"Content-Type: text/plain; charset=" + tc.charset}, "hello"))
			e := p.entry(t, id)
			var person model.Person
			p.update(t, func(tx *store.Tx) error {
				var err error
				person, err = model.PersonByEmail(tx, addr)
				return err
			})
			ms := p.messages(t, e.Conversation)
			if e.Conversation == "" || person.Name != tc.name || len(ms) != 1 || ms[0].Author != person.ID {
				t.Fatalf("action %q; person %+v; messages %+v; want %q in its conversation", e.Action, person, ms, tc.name)
			}
			if e.Subject != tc.name || e.From != tc.name+" <"+addr+">" {
				t.Errorf("journal shows From %q, Subject %q", e.From, e.Subject)
			}
		})
	}
}
