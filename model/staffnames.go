package model

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// The names of staff (users and bots), so that an outsider who calls
// themselves "Ada" is not shown to customers as the agent Ada (issue 21,
// item 5). Keys are FoldName(name) NUL id.
const (
	bStaffNames = "staff_names"
	// staffNamesBuilt marks an index that holds every person stored
	// before it existed too (built on first use, see StaffNamed).
	staffNamesBuilt = "\x00built"
)

// FoldName is the form names are compared in: NFKC (so full-width and
// other compatibility forms of letters fold to the plain ones), lower
// case, runs of white space and punctuation around words ignored.
func FoldName(name string) string {
	name = strings.ToLower(norm.NFKC.String(name))
	return strings.Join(strings.FieldsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r)
	}), " ")
}

func staffKey(name, id string) []byte { return []byte(FoldName(name) + "\x00" + id) }

func isStaff(p Person) bool { return p.Kind == notify.KindUser || p.Kind == notify.KindBot }

// indexStaffName keeps the index up to date when old becomes p.
func indexStaffName(tx *store.Tx, old, p Person) error {
	if old.ID != "" && isStaff(old) && FoldName(old.Name) != "" {
		if err := tx.Delete(bStaffNames, staffKey(old.Name, old.ID)); err != nil {
			return err
		}
	}
	if isStaff(p) && FoldName(p.Name) != "" {
		return tx.Put(bStaffNames, staffKey(p.Name, p.ID), nil)
	}
	return nil
}

// StaffNamed tells whether a user or a bot bears name (compared folded,
// see FoldName). The first call in a writable transaction on a store
// older than the index builds it; a read-only one scans people instead.
func StaffNamed(tx *store.Tx, name string) (bool, error) {
	folded := FoldName(name)
	if folded == "" {
		return false, nil
	}
	if tx.Get(bStaffNames, []byte(staffNamesBuilt)) == nil {
		if !tx.Writable() {
			return scanStaffNamed(tx, folded)
		}
		if err := buildStaffNames(tx); err != nil {
			return false, err
		}
	}
	prefix := []byte(folded + "\x00")
	found := false
	err := tx.Scan(bStaffNames, prefix, func(k, _ []byte) (bool, error) {
		found = bytes.HasPrefix(k, prefix)
		return false, nil
	})
	return found, err
}

func scanStaffNamed(tx *store.Tx, folded string) (bool, error) {
	found := false
	err := tx.Scan(bPeople, nil, func(_, v []byte) (bool, error) {
		var p Person
		if err := json.Unmarshal(v, &p); err != nil {
			return false, err
		}
		found = isStaff(p) && FoldName(p.Name) == folded
		return !found, nil
	})
	return found, err
}

func buildStaffNames(tx *store.Tx) error {
	var staff []Person
	err := tx.Scan(bPeople, nil, func(_, v []byte) (bool, error) {
		var p Person
		if err := json.Unmarshal(v, &p); err != nil {
			return false, err
		}
		if isStaff(p) {
			staff = append(staff, p)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, p := range staff {
		if err := indexStaffName(tx, Person{}, p); err != nil {
			return err
		}
	}
	return tx.Put(bStaffNames, []byte(staffNamesBuilt), []byte("1"))
}
