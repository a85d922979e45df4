package model

import (
	"bytes"
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
	// before it existed too (built on first use, see StaffNamed), its
	// value the version of FoldName the keys were made with: an index of
	// another version is rebuilt.
	staffNamesBuilt = "\x00built"
	foldVersion     = "2"
)

// FoldName is the form names are compared in, a skeleton in the manner of
// UTS #39 (golang.org/x/text has none) for the look-alikes a name of a
// Latin-script staff member is likely forged with:
//
//   - NFKC (full-width and other compatibility forms fold to plain ones);
//   - every default-ignorable code point dropped (format characters such
//     as U+200B, variation selectors U+FE00.., U+034F, the Hangul fillers
//     U+115F, U+3164 ...), so "A\u034Fda" is "ada";
//   - Cyrillic and Greek letters that look like Latin ones ("А", "Α" for
//     "A"; "о", "ο" for "o" ...) mapped to them (confusables), upper case
//     before lower casing, since "В" looks like "B" but "в" not;
//   - lower case; then i, l, 1, | and the dotless ı one letter ("l"), 0
//     and o one ("o"), "rn" read as "m" and "vv" as "w";
//   - runs of white space and punctuation around words ignored.
//
// Its scope: Latin, Cyrillic and Greek look-alikes of Latin letters. A
// look-alike from another script (Armenian, Cherokee, mathematical
// letters NFKC does not fold) is not caught. Two different names may fold
// alike ("Ian" and "Lan"); that only marks a customer external.
func FoldName(name string) string {
	name = norm.NFKC.String(name)
	var b strings.Builder
	for _, r := range name {
		if defaultIgnorable(r) {
			continue
		}
		if l, ok := confusable[r]; ok {
			r = l
		}
		r = unicode.ToLower(r)
		if l, ok := confusable[r]; ok {
			r = l
		}
		b.WriteRune(r)
	}
	name = strings.NewReplacer("rn", "m", "vv", "w").Replace(b.String())
	return strings.Join(strings.FieldsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsControl(r)
	}), " ")
}

// defaultIgnorable approximates Unicode's Default_Ignorable_Code_Point
// (DerivedCoreProperties: Other_Default_Ignorable_Code_Point, Cf and the
// variation selectors), the characters a renderer shows as nothing.
func defaultIgnorable(r rune) bool {
	return unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) ||
		unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// confusable maps Cyrillic and Greek letters (both cases) and a few Latin
// characters to the lower-case Latin letter they look like.
var confusable = func() map[rune]rune {
	m := map[rune]rune{}
	for _, pair := range []string{
		// Cyrillic capitals, then small letters.
		"АaВbЕeЅsІlЈjКkМmНhОoРpСcТtУyХxҮyӀlԚqԜwЗ3",
		"аaеeѕsіlјjкkоoрpсcуyхxһhӏlԛqԝwԁdүyѵvьb",
		// Greek capitals, then small letters.
		"ΑaΒbΕeΖzΗhΙlΚkΜmΝnΟoΡpΤtΥyΧxϜf",
		"αaοoρpνvυuικkτtχxϲcϳj",
		// Latin look-alikes of each other and digits.
		"ılIl1l|lǀl0oɑaɡgſf",
	} {
		rs := []rune(pair)
		for i := 0; i+1 < len(rs); i += 2 {
			m[rs[i]] = rs[i+1]
		}
	}
	m['i'] = 'l'
	return m
}()

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
	if string(tx.Get(bStaffNames, []byte(staffNamesBuilt))) != foldVersion {
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
		if err := decodeRecord(v, &p); err != nil {
			return false, err
		}
		found = isStaff(p) && FoldName(p.Name) == folded
		return !found, nil
	})
	return found, err
}

func buildStaffNames(tx *store.Tx) error {
	var stale [][]byte // keys of an older FoldName
	err := tx.Scan(bStaffNames, nil, func(k, _ []byte) (bool, error) {
		stale = append(stale, bytes.Clone(k))
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range stale {
		if err := tx.Delete(bStaffNames, k); err != nil {
			return err
		}
	}
	var staff []Person
	err = tx.Scan(bPeople, nil, func(_, v []byte) (bool, error) {
		var p Person
		if err := decodeRecord(v, &p); err != nil {
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
	return tx.Put(bStaffNames, []byte(staffNamesBuilt), []byte(foldVersion))
}
