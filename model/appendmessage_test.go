package model

import (
	"context"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

// TestAppendMessageReadsItsConversationOnce: appending a message reads
// and decodes its conversation once (the author's follow used to read it
// again), counted as the allocations of an append to a conversation its
// author follows.
func TestAppendMessageReadsItsConversationOnce(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC)
	ctx := context.Background()
	var allocs float64
	if err := db.Update(ctx, func(tx *store.Tx) error {
		if _, err := AddCustomer(tx, "p1", "Ann", "ann@client.test", now, false); err != nil {
			return err
		}
		c := &Conversation{ID: "c1", Kind: External, Followers: []string{"p1"}, Created: now, Subject: "question"}
		if err := PutConversation(tx, c); err != nil {
			return err
		}
		i := 0
		allocs = testing.AllocsPerRun(20, func() {
			i++
			m := &Message{ID: store.NewID(now.Add(time.Duration(i))), Conversation: "c1", Author: "p1", Channel: ChannelEmail,
				Text: "hello", Created: now}
			if err := AppendMessage(tx, m); err != nil {
				t.Fatal(err)
			}
		})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// 32 with one read of the conversation, 41 with two (2026-12-07).
	if allocs > 35 {
		t.Errorf("%v allocations per append, want at most 35 (the conversation read once)", allocs)
	}
}
