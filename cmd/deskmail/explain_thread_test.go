package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

func TestExplainThread(t *testing.T) {
	dir := t.TempDir()
	keys, err := threading.LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "ann", Kind: notify.KindCustomer, Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Kind: model.External, Followers: []string{"ann"}, RootID: "root@help.test"})
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	reply, _ := keys.ReplyAddress("c1", "ann", "help.test")
	cases := []struct {
		name, headers string
		conv, by      string
	}{
		{"token", "To: " + reply, "c1", "token"},
		{"references", "To: other@help.test\nReferences: <root@help.test>", "c1", "references"},
		{"support address", "To: support@help.test", "", "new"},
		{"nothing", "To: someone@help.test", "", "none"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "m.eml")
			raw := "From: ann@client.test\n" + tc.headers + "\nSubject: hi\n\nhello\n"
			if err := os.WriteFile(f, []byte(raw), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runDeskmail(t, nil, "explain", "--json", "--data", dir, f)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got struct {
				Thread *struct {
					Conversation *string `json:"conversation"`
					By           string  `json:"by"`
				} `json:"thread"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil || got.Thread == nil {
				t.Fatalf("%v\n%s", err, out)
			}
			conv := ""
			if got.Thread.Conversation != nil {
				conv = *got.Thread.Conversation
			}
			if conv != tc.conv || got.Thread.By != tc.by {
				t.Errorf("thread = %q by %q, want %q by %q\n%s", conv, got.Thread.By, tc.conv, tc.by, out)
			}
			if tc.conv == "" && !strings.Contains(out, `"conversation": null`) {
				t.Errorf("conversation is not null:\n%s", out)
			}
		})
	}
}
