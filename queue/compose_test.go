package queue

import (
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

func TestEmailHeadersThreadAndCannotBeInjected(t *testing.T) {
	e := newEnv(t)
	e.update(func(tx *store.Tx) error {
		p, err := model.GetPerson(tx, "agent")
		if err != nil {
			return err
		}
		p.Name = "Evil\r\nBcc: victim@example.net"
		if err := model.PutPerson(tx, p); err != nil {
			return err
		}
		c, err := model.GetConversation(tx, "c1")
		if err != nil {
			return err
		}
		c.Subject = "Drucker brennt\r\nX-Injected: yes"
		return model.PutConversation(tx, &c)
	})
	e.post("<b>not markup</b>")
	e.clk.Advance(DefaultHold)
	e.process()
	got := e.tr.emails()
	if len(got) != 1 {
		t.Fatalf("sent %d", len(got))
	}
	h := got[0].msg.Header
	if h.Get("Bcc") != "" || h.Get("X-Injected") != "" {
		t.Errorf("a header was injected: %v", h)
	}
	if !strings.Contains(strings.SplitN(got[0].body, "\r\n\r\n", 2)[0], "=?utf-8?q?Ann_=C3=85gren?=") {
		t.Errorf("To name not RFC 2047 encoded: %q", h.Get("To"))
	}
	dec := new(mime.WordDecoder)
	subj, err := dec.DecodeHeader(h.Get("Subject"))
	if err != nil || !strings.HasPrefix(subj, "[#1001] Drucker brennt") {
		t.Errorf("Subject %q (%v), want the tag and topic", subj, err)
	}
	var c model.Conversation
	e.view(func(tx *store.Tx) error {
		c, err = model.GetConversation(tx, "c1")
		return err
	})
	if c.RootID == "" || h.Get("In-Reply-To") != "<"+c.RootID+">" || !strings.Contains(h.Get("References"), c.RootID) {
		t.Errorf("In-Reply-To %q References %q, want the thread root %q", h.Get("In-Reply-To"), h.Get("References"), c.RootID)
	}
	msgID := strings.Trim(h.Get("Message-ID"), "<>")
	if !e.kr.IsOwnMessageID(msgID) {
		t.Errorf("Message-ID %q is not of the threading scheme", msgID)
	}
	e.view(func(tx *store.Tx) error {
		if conv, ok := model.ConversationByMessageID(tx, msgID); !ok || conv != "c1" {
			t.Errorf("Message-ID not indexed to c1: %q %v", conv, ok)
		}
		return nil
	})
	if h.Get("X-Deskmail-Loop") != "v1.marker-of-"+msgID || h.Get("Auto-Submitted") != "auto-generated" {
		t.Errorf("marker %q, Auto-Submitted %q", h.Get("X-Deskmail-Loop"), h.Get("Auto-Submitted"))
	}
	// A reply to Reply-To threads back to the conversation and the recipient.
	rt, err := mail.ParseAddress(h.Get("Reply-To"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.kr.ParseReplyAddress(rt.Address, []string{"help.example.test"})
	if err != nil || tok.Conversation != "c1" || tok.Recipient != "ann" {
		t.Errorf("Reply-To %q -> %+v, %v", rt.Address, tok, err)
	}
	// Two parts, the HTML one escaping the message text.
	_, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(got[0].msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p) // quoted-printable is decoded by NextPart
		types = append(types, p.Header.Get("Content-Type"))
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/html") && strings.Contains(string(b), "<b>not markup</b>") {
			t.Error("the HTML part does not escape the message text")
		}
	}
	if len(types) != 2 {
		t.Errorf("parts %q, want text and HTML", types)
	}

}
