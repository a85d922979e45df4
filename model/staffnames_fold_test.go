package model

import (
	"context"
	"testing"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// Issue 21 review: a display name made of a staff name plus invisible
// characters, or with Cyrillic or Greek look-alike letters, folds to the
// staff name, so the customer is marked external; an index written by
// the previous FoldName is rebuilt.
func TestLookalikeStaffNames(t *testing.T) {
	db := testDB(t)
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		if err := PutPerson(tx, Person{ID: "ada", Kind: notify.KindUser, Name: "Ada", Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		// An index of the previous version: its marker and a stale key.
		if err := tx.Put(bStaffNames, []byte(staffNamesBuilt), []byte("1")); err != nil {
			return err
		}
		return tx.Put(bStaffNames, []byte("stale name\x00gone"), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{
		"A\u034Fda", "Ad\uFE00a", "\u3164Ada", "\u115FAda", "Ada\u200B", "A\u2066da\u2069", "A\U000E0041da",
		"\u0410da", "\u0391da", "Аdа", "ΑDΑ", "ADA",
	} {
		_ = db.Update(context.Background(), func(tx *store.Tx) error {
			if got, err := StaffNamed(tx, name); err != nil || !got {
				t.Errorf("StaffNamed(%q) = %v %v, want true (fold %q)", name, got, err, FoldName(name))
			}
			return nil
		})
	}
	_ = db.View(func(tx *store.Tx) error {
		for name, want := range map[string]bool{"Bob": false, "Adam": false, "stale name": false, "Аda": true} {
			if got, _ := StaffNamed(tx, name); got != want {
				t.Errorf("StaffNamed(%q) = %v, want %v", name, got, want)
			}
		}
		return nil
	})
	for _, pair := range [][2]string{{"Alice", "AIice"}, {"Alice", "A1ice"}, {"Marn", "Mam"}, {"Wendy", "VVendy"}, {"Boo", "B00"}} {
		if FoldName(pair[0]) != FoldName(pair[1]) {
			t.Errorf("%q and %q fold apart: %q %q", pair[0], pair[1], FoldName(pair[0]), FoldName(pair[1]))
		}
	}
}
