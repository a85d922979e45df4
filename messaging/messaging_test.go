package messaging

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

func setup(t *testing.T) (*Service, *clock.Fake) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return setupOn(t, db)
}

// setupOn stores the fixture's people, project, item and conversation c1
// in db.
func setupOn(t *testing.T, db *store.DB) (*Service, *clock.Fake) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		manager := notify.DefaultSettings()
		manager, _ = notify.ApplyPreset(manager, notify.PresetSupportManager)
		manager.Visibility = notify.VisibilityAllProjects
		for _, p := range []model.Person{
			{ID: "agent", Kind: notify.KindUser, Name: "Agent", Emails: []string{"Agent@Example.test"}, Settings: notify.DefaultSettings()},
			{ID: "boss", Kind: notify.KindUser, Name: "Boss", Emails: []string{"boss@example.test"}, Settings: manager},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann", Emails: []string{"ann@client.test"}, Settings: notify.DefaultSettings()},
		} {
			if err := model.PutPerson(tx, p); err != nil {
				return err
			}
		}
		if err := model.PutProject(tx, model.Project{ID: "p1", Name: "Support"}); err != nil {
			return err
		}
		if err := model.PutItem(tx, model.Item{ID: "i1", Project: "p1", Title: "Printer", Followers: []string{"agent"}}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Item: "i1", Kind: model.External, Followers: []string{"ann"}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return &Service{DB: db, Clock: clk, Hub: NewHub()}, clk
}

func TestPostNotifiesAndSeenIsIdempotent(t *testing.T) {
	s, clk := setup(t)
	ch, cancel := s.Hub.Subscribe("agent")
	defer cancel()
	p, err := s.Post(context.Background(), model.Message{Conversation: "c1", Author: "ann", Channel: model.ChannelEmail, Text: "help"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, r := range p.Recipients {
		got[r.PersonID] = string(r.Reason)
	}
	if len(got) != 2 || got["agent"] == "" || got["boss"] != string(notify.ReasonAllCustomerMessages) {
		t.Errorf("recipients = %v", got)
	}
	select {
	case n := <-ch:
		if n.Message != p.Message.ID {
			t.Errorf("live notification %+v", n)
		}
	default:
		t.Error("subscriber got nothing")
	}
	clk.Advance(time.Second)
	p2, _ := s.Post(context.Background(), model.Message{Conversation: "c1", Author: "agent", Channel: model.ChannelWeb, Text: "on it"})
	// The agent replied, so follows the conversation now.
	s.DB.View(context.Background(), func(tx *store.Tx) error {
		c, _ := model.GetConversation(tx, "c1")
		if !model.Follows(tx, "agent", c) {
			t.Error("author does not follow after posting")
		}
		return nil
	})
	marked, err := s.Seen(context.Background(), "ann", "c1", p2.Message.ID)
	if err != nil || len(marked) != 1 || marked[0] != p2.Message.ID {
		t.Errorf("seen = %v %v", marked, err)
	}
	again, err := s.Seen(context.Background(), "ann", "c1", p2.Message.ID)
	if err != nil || len(again) != 0 {
		t.Errorf("second seen = %v %v", again, err)
	}
	if m, err := s.Seen(context.Background(), "nobody", "c9", "zzz"); err != nil || len(m) != 0 {
		t.Errorf("seen of nothing: %v %v", m, err)
	}
	s.DB.View(context.Background(), func(tx *store.Tx) error {
		inbox, unread, _ := model.Inbox(tx, "ann", 10)
		if len(inbox) != 1 || unread != 0 || inbox[0].Seen == nil {
			t.Errorf("ann's inbox %+v unread %d", inbox, unread)
		}
		return nil
	})
}

func TestCustomerCannotPostInternal(t *testing.T) {
	s, _ := setup(t)
	s.DB.Update(context.Background(), func(tx *store.Tx) error {
		return model.PutConversation(tx, &model.Conversation{ID: "c2", Item: "i1", Kind: model.Internal, Followers: []string{"ann", "agent"}})
	})
	_, err := s.Post(context.Background(), model.Message{Conversation: "c2", Author: "ann", Text: "let me in"})
	var fe *model.FieldError
	if !errors.As(err, &fe) || fe.Field != "author" {
		t.Errorf("err = %v", err)
	}
	p, err := s.Post(context.Background(), model.Message{Conversation: "c2", Author: "agent", Text: "internal note"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Recipients {
		if r.PersonID == "ann" {
			t.Error("customer notified of an internal message")
		}
	}
}

func TestEmailAddressesAreUnique(t *testing.T) {
	s, _ := setup(t)
	err := s.DB.Update(context.Background(), func(tx *store.Tx) error {
		return model.PutPerson(tx, model.Person{ID: "eve", Kind: notify.KindCustomer, Emails: []string{"AGENT@example.test"}, Settings: notify.DefaultSettings()})
	})
	if !errors.Is(err, model.ErrConflict) {
		t.Errorf("taking another person's address: %v", err)
	}
	s.DB.View(context.Background(), func(tx *store.Tx) error {
		p, err := model.PersonByEmail(tx, "agent@EXAMPLE.test")
		if err != nil || p.ID != "agent" {
			t.Errorf("lookup = %v %v", p.ID, err)
		}
		return nil
	})
}

func TestHooksRunInTheSameCommit(t *testing.T) {
	s, _ := setup(t)
	var held []model.Notification
	var seen []string
	s.OnNotify = func(tx *store.Tx, n model.Notification) error {
		if _, err := model.GetNotification(tx, n.Person, n.Message); err != nil {
			t.Errorf("OnNotify does not see its notification in the transaction: %v", err)
		}
		held = append(held, n)
		return nil
	}
	s.OnSeen = func(_ *store.Tx, person, conv string, marked []string) error {
		seen = append(seen, marked...)
		return nil
	}
	p, err := s.Post(context.Background(), model.Message{Conversation: "c1", Author: "ann", Channel: model.ChannelWeb, Text: "help"})
	if err != nil {
		t.Fatal(err)
	}
	if len(held) != len(p.Recipients) {
		t.Errorf("OnNotify ran %d times for %d recipients", len(held), len(p.Recipients))
	}
	if _, err := s.Seen(context.Background(), "agent", "c1", p.Message.ID); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 1 || seen[0] != p.Message.ID {
		t.Errorf("OnSeen got %q", seen)
	}

	// A failing hook fails the Post: no message without its held email.
	s.OnNotify = func(*store.Tx, model.Notification) error { return errors.New("queue full") }
	if _, err := s.Post(context.Background(), model.Message{ID: "m2", Conversation: "c1", Author: "ann", Channel: model.ChannelWeb, Text: "again"}); err == nil {
		t.Fatal("Post succeeded although OnNotify failed")
	}
	err = s.DB.View(context.Background(), func(tx *store.Tx) error {
		if _, err := model.GetMessage(tx, "m2"); !errors.Is(err, model.ErrNotFound) {
			t.Errorf("the message of a failed Post was stored: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
