package model

import (
	"context"
	"strconv"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// Tags 1001-1025 stored while the tag sequence is at 0 (an import that did
// not carry it over): more taken tags than a batch runs again. A new
// conversation still opens, with the next tag after them, and the old
// tags keep their conversations.
func TestNewConversationAfterTagsImportedAheadOfTheSequence(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	ctx := context.Background()
	if err := db.Update(ctx, func(tx *store.Tx) error {
		for i := 1001; i <= 1025; i++ {
			if err := tx.Put(bConvTags, []byte(strconv.Itoa(i)), []byte("old"+strconv.Itoa(i))); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := &Conversation{ID: "cnew", Kind: External}
	if err := db.Update(ctx, func(tx *store.Tx) error { return PutConversation(tx, c) }); err != nil {
		t.Fatal(err)
	}
	if c.Tag != "1026" {
		t.Errorf("tag %s, want 1026", c.Tag)
	}
	if err := db.View(ctx, func(tx *store.Tx) error {
		for tag, want := range map[string]string{"1026": "cnew", "1025": "old1025", "1001": "old1001"} {
			if id, ok := ConversationByTag(tx, tag); !ok || id != want {
				t.Errorf("tag %s: %q %v, want %s", tag, id, ok, want)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
