package intake

import (
	"bytes"
	"mime"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-message/charset"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/mailmsg"
)

// FuzzOneReading is the differential test of issue 21: whatever the
// bytes, the receiver (ordering keys, the log's From), the loop guard,
// threading, the sender check and DMARC alignment read the same From,
// Reply-To, Message-ID, In-Reply-To and References, because they read one
// parse; and when that parse names an author, an independent parser
// (net/mail) that reads the header at all reads the same one. An email
// that named one author to one reader and another to the next (the
// "From :" attack) was how a stranger posted as an agent.
func FuzzOneReading(f *testing.F) {
	for _, glob := range []string{"../mailmsg/testdata/*.eml", "../loopguard/testdata/*.eml", "testdata/onereading/*.eml"} {
		files, _ := filepath.Glob(glob)
		for _, name := range files {
			if b, err := os.ReadFile(name); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("From : Ada <ada@example.test>\r\nFrom: x <mallory@evil.test>\r\n\r\nhi\r\n"))
	f.Add([]byte("from: a@x.test\r\nFROM : b@y.test\r\nReply-To: c@z.test, d@z.test\r\nMessage-ID: junk <m@x> (c)\r\nIn-Reply-To: <p@x>,<q@x>\r\nReferences: r@x <s@x\r\n\r\n"))
	f.Add([]byte("From: =?utf-8?q?Doe=2C_John?= <j@x.test>\r\nSender: s@x.test\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		msg := mailmsg.Parse(raw, mailmsg.Limits{})
		author := ""
		if msg.Author != nil {
			author = msg.Author.Addr
		}
		// Threading and the sender check (senderFacts.From is e.From).
		e := emailOf(msg)
		if e.From != author || e.MessageID != msg.MessageID || !slices.Equal(e.InReplyTo, msg.InReplyTo) || !slices.Equal(e.References, msg.References) {
			t.Fatalf("threading reads %q %q %q %q; the parse %q %q %q %q", e.From, e.MessageID, e.InReplyTo, e.References,
				author, msg.MessageID, msg.InReplyTo, msg.References)
		}
		// The loop guard.
		lg := loopguard.ReadingOf(msg)
		if author != "" && lg.From != author {
			t.Fatalf("loop guard reads From %q, the parse %q", lg.From, author)
		}
		replyTo := ""
		if len(msg.ReplyTo) > 0 {
			replyTo = msg.ReplyTo[0].Addr
		}
		if lg.ReplyTo != replyTo || lg.MessageID != msg.MessageID || !slices.Equal(lg.InReplyTo, msg.InReplyTo) || !slices.Equal(lg.References, msg.References) {
			t.Fatalf("loop guard reads %+v; the parse %q %q %q %q", lg, replyTo, msg.MessageID, msg.InReplyTo, msg.References)
		}
		// DMARC alignment.
		if d, want := auth.FromDomain(msg), strings.TrimSuffix(domainOf(author), "."); d != want {
			t.Fatalf("DMARC aligns with %q, the author's domain is %q", d, want)
		}
		// The receiver parses the header alone; it must find the same author.
		hdr := mailmsg.ParseHeader(raw, mailmsg.Limits{})
		if (hdr.Author == nil) != (msg.Author == nil) || (hdr.Author != nil && hdr.Author.Addr != author) || hdr.NoAuthor != msg.NoAuthor {
			t.Fatalf("the receiver reads author %v (%q), the pipeline %v (%q)", hdr.Author, hdr.NoAuthor, msg.Author, msg.NoAuthor)
		}
		keys := inbound.OrderKeys(inbound.Envelope{MailFrom: "env@x.test"}, msg)
		if author != "" && len(author) < 150 && !strings.ContainsAny(author, "\x00\r\n") && !slices.Contains(keys, "from:"+author) {
			t.Fatalf("ordering keys %q miss the author %q", keys, author)
		}
		// An independent parser that reads the header must not read a
		// different author.
		if author == "" {
			return
		}
		nm, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			return
		}
		if n := len(nm.Header["From"]); n != 1 {
			t.Fatalf("net/mail reads %d From fields, the parse one author %q", n, author)
		}
		p := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charset.Reader}}
		if a, err := p.Parse(nm.Header.Get("From")); err == nil && !strings.EqualFold(a.Address, author) {
			t.Fatalf("net/mail reads the author %q, the parse %q", a.Address, author)
		}
	})
}
