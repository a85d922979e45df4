package model

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

func TestMessagesAfterPagesByCountAndSize(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var ids []string
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := PutPerson(tx, Person{ID: "ann", Kind: notify.KindCustomer, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		for _, c := range []string{"c", "c2"} { // c2 sorts right after c's keys
			if err := PutConversation(tx, &Conversation{ID: c, Kind: External}); err != nil {
				return err
			}
		}
		for i, size := range []int{10, 10, 600, 600, 10} {
			m := Message{ID: store.NewID(t0.Add(time.Duration(i) * time.Second)), Conversation: "c", Author: "ann", Text: strings.Repeat("x", size)}
			if err := AppendMessage(tx, &m); err != nil {
				return err
			}
			ids = append(ids, m.ID)
		}
		m := Message{ID: store.NewID(t0), Conversation: "c2", Author: "ann", Text: "other"}
		return AppendMessage(tx, &m)
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name            string
		after           string
		limit, maxBytes int
		want            []string
		more            bool
	}{
		{"all", "", 100, 1 << 20, ids, false},
		{"by count", "", 2, 1 << 20, ids[:2], true},
		{"after a cursor", ids[1], 100, 1 << 20, ids[2:], false},
		{"the budget stops the page once reached", "", 100, 500, ids[:3], true},
		{"always one message, however large", ids[1], 100, 1, ids[2:3], true},
		{"after the last", ids[4], 100, 1 << 20, nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []Message
			var more bool
			err := db.View(context.Background(), func(tx *store.Tx) error {
				var err error
				got, more, err = MessagesAfter(tx, "c", c.after, c.limit, c.maxBytes)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, m := range got {
				gotIDs = append(gotIDs, m.ID)
			}
			if strings.Join(gotIDs, ",") != strings.Join(c.want, ",") || more != c.more {
				t.Errorf("got %v more=%v, want %v more=%v", gotIDs, more, c.want, c.more)
			}
		})
	}
}
