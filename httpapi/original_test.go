package httpapi

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// TestOriginalOverHTTP: the message keeps the stripped text, and the
// original email, quotes and all, is served byte for byte, from the
// store and from the spool alike.
func TestOriginalOverHTTP(t *testing.T) {
	a := newMessagingAPI(t)
	body := "From: ann@client.test\r\nTo: support@help.test\r\nSubject: Re: hi\r\n\r\n" +
		"Thanks, it works.\r\n\r\nOn Mon, Nov 23, 2026 at 10:15 AM Help <reply+x@help.test> wrote:\r\n> Does it work?\r\n"
	big := body + strings.Repeat("> quoted history line\r\n", 20000) // past SpillBytes: spooled
	rcv := &inbound.Receiver{DB: a.db, Clock: clock.Real{}, Hostname: "mx.help.test"}
	for i, raw := range []string{body, big} {
		rc, err := rcv.Receive(context.Background(), inbound.Envelope{MailFrom: "ann@client.test", Rcpts: []string{"support@help.test"}, Proto: "SMTP"}, strings.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		msgID := "e" + rc.ID
		err = a.db.Update(context.Background(), func(tx *store.Tx) error {
			if i == 0 {
				err := model.PutPerson(tx, model.Person{ID: "ann", Kind: notify.KindCustomer, Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()})
				if err != nil {
					return err
				}
				if err := model.PutConversation(tx, &model.Conversation{ID: "c1", Kind: model.External}); err != nil {
					return err
				}
			}
			return model.AppendMessage(tx, &model.Message{ID: msgID, Conversation: "c1", Author: "ann",
				Channel: model.ChannelEmail, Text: "Thanks, it works.", Original: rc.ID, Created: time.Now()})
		})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", a.srv.URL+"/v1/messages/"+msgID+"/original", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "message/rfc822" {
			t.Fatalf("original %d: %d %s", i, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if !strings.HasPrefix(string(got), "Received: ") || !strings.HasSuffix(string(got), raw) {
			t.Fatalf("original %d: %d bytes, not the stored email (want %d bytes after a Received header)", i, len(got), len(raw))
		}
	}
	// A message posted in the web app has no original.
	code, m := a.call("POST", "/v1/conversations/c1/messages", map[string]any{"author": "ann", "text": "web"})
	if code != 201 {
		t.Fatalf("post: %d %v", code, m)
	}
	if code, m := a.call("GET", "/v1/messages/"+m["message"].(map[string]any)["id"].(string)+"/original", nil); code != 404 || !strings.Contains(m["error"].(string), "did not come by email") {
		t.Fatalf("web message: %d %v", code, m)
	}
	if code, m := a.call("GET", "/v1/messages/nosuch/original", nil); code != 404 {
		t.Fatalf("unknown message: %d %v", code, m)
	}
}
