package model

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// TestUnverifiedOpenerUntilAnAgentWrites: a conversation opened in
// target's name by an unverified email withholds from target every
// message before the first agent's, and none after; an outsider's
// message is withheld from customers only; the marks survive the web
// app replacing the conversation without them.
func TestUnverifiedOpenerUntilAnAgentWrites(t *testing.T) {
	db := testDB(t)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var msgs []Message
	var c Conversation
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		for _, p := range []Person{
			{ID: "target", Kind: notify.KindCustomer, Settings: notify.DefaultSettings(), Unverified: true},
			{ID: "mallory", Kind: notify.KindCustomer, Settings: notify.DefaultSettings()},
			{ID: "ada", Kind: notify.KindUser, Settings: notify.DefaultSettings()},
			{ID: "bot", Kind: notify.KindBot, Settings: notify.DefaultSettings()},
		} {
			if err := PutPerson(tx, p); err != nil {
				return err
			}
		}
		// Replaced without the mark (the web app), the person keeps it.
		if err := PutPerson(tx, Person{ID: "target", Kind: notify.KindCustomer, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		if p, _ := GetPerson(tx, "target"); !p.Unverified {
			t.Error("replacing the person dropped its unverified mark")
		}
		if err := PutConversation(tx, &Conversation{ID: "c", Kind: External, Followers: []string{"target"}, OpenedUnverified: "target"}); err != nil {
			return err
		}
		for i, a := range []string{"target", "mallory", "bot", "ada", "mallory"} {
			m := Message{ID: store.NewID(t0.Add(time.Duration(i) * time.Second)), Conversation: "c", Author: a, Text: "x",
				Created: t0.Add(time.Duration(i) * time.Second), Outsider: i == 4}
			if err := AppendMessage(tx, &m); err != nil {
				return err
			}
			msgs = append(msgs, m)
		}
		// The web app replaces the conversation, knowing nothing of this.
		if err := PutConversation(tx, &Conversation{ID: "c", Kind: External, Followers: []string{"target", "mallory", "ada"}}); err != nil {
			return err
		}
		if p, _ := GetPerson(tx, "target"); p.Unverified {
			t.Error("the person is still unverified after an agent wrote in the conversation they opened")
		}
		var err error
		c, err = GetConversation(tx, "c")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.OpenedUnverified != "target" || c.AgentWrote == nil || !c.AgentWrote.Equal(msgs[3].Created) {
		t.Fatalf("conversation marks: %q %v", c.OpenedUnverified, c.AgentWrote)
	}
	for i, want := range []bool{true, true, true, false, true} {
		if got := EmailWithheld(c, msgs[i], "target", notify.KindCustomer) != ""; got != want {
			t.Errorf("message %d by %s withheld from target: %v, want %v", i, msgs[i].Author, got, want)
		}
	}
	if EmailWithheld(c, msgs[1], "ada", notify.KindUser) != "" || EmailWithheld(c, msgs[4], "ada", notify.KindUser) != "" {
		t.Error("an agent is kept from seeing messages by email")
	}
	if EmailWithheld(c, msgs[3], "mallory", notify.KindCustomer) != "" {
		t.Error("the agent's message is withheld from another customer")
	}
	forged := msgs[1]
	forged.Unverified = true
	if !strings.Contains(EmailWithheld(c, forged, "cal", notify.KindCustomer), "unverified sender") {
		t.Error("an unverified message is emailed to another customer")
	}
	if EmailWithheld(c, forged, "ada", notify.KindUser) != "" {
		t.Error("an unverified message is withheld from an agent")
	}
	_ = db.View(func(tx *store.Tx) error {
		if m, err := MessageByEmailID(tx, "nothing@x.test"); err == nil {
			t.Errorf("found %+v for an unknown Message-ID", m)
		}
		return nil
	})
}

// TestOutsiderDoesNotFollow: AppendMessage makes an outsider's author no
// follower, and indexes the email's Message-ID to the message.
func TestOutsiderDoesNotFollow(t *testing.T) {
	db := testDB(t)
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		if err := PutPerson(tx, Person{ID: "eve", Kind: notify.KindCustomer, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		if err := PutConversation(tx, &Conversation{ID: "c", Kind: External}); err != nil {
			return err
		}
		m := Message{ID: "m1", Conversation: "c", Author: "eve", Text: "x", Outsider: true, MessageID: "E1@evil.test"}
		if err := AppendMessage(tx, &m); err != nil {
			return err
		}
		c, _ := GetConversation(tx, "c")
		if Follows(tx, "eve", c) {
			t.Error("the outsider follows the conversation")
		}
		if got, err := MessageByEmailID(tx, "<e1@evil.test>"); err != nil || got.ID != "m1" {
			t.Errorf("MessageByEmailID: %+v %v", got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestStaffNamed: names fold (case, white space, punctuation,
// compatibility forms); the index follows renames and is built once for
// people stored before it existed.
func TestStaffNamed(t *testing.T) {
	db := testDB(t)
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		// A person stored before the index existed: written raw.
		if err := put(tx, bPeople, "old", Person{ID: "old", Kind: notify.KindUser, Name: "Bea Old", Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		for _, p := range []Person{
			{ID: "ada", Kind: notify.KindUser, Name: "Ada Lovelace", Settings: notify.DefaultSettings()},
			{ID: "ann", Kind: notify.KindCustomer, Name: "Ann", Settings: notify.DefaultSettings()},
			{ID: "sam", Kind: notify.KindUser, Name: "Sam", Settings: notify.DefaultSettings()},
		} {
			if err := PutPerson(tx, p); err != nil {
				return err
			}
		}
		return PutPerson(tx, Person{ID: "sam", Kind: notify.KindUser, Name: "Samuel", Settings: notify.DefaultSettings()})
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{"ada lovelace": true, "  ADA   Lovelace. ": true, "Ａｄａ Lovelace": true, "Ann": false,
		"Sam": false, "Samuel": true, "bea old": true, "": false, "Ada": false}
	check := func(tx *store.Tx) {
		for name, want := range cases {
			got, err := StaffNamed(tx, name)
			if err != nil || got != want {
				t.Errorf("StaffNamed(%q) = %v %v, want %v (writable %v)", name, got, err, want, tx.Writable())
			}
		}
	}
	_ = db.View(func(tx *store.Tx) error { check(tx); return nil })                         // scans
	_ = db.Update(context.Background(), func(tx *store.Tx) error { check(tx); return nil }) // builds
	_ = db.View(func(tx *store.Tx) error { check(tx); return nil })                         // reads the index
}

// testDB is a bbolt store in the test's folder.
func testDB(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
