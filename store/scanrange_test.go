package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/deskmail/deskmail/store"
)

// ScanRange and ScanPrefix stop at their end on every backend: keys just
// past it (the next prefix, a longer key that sorts after) are never
// handed to fn, and a range's pages follow one another.
func TestScanRangeAndPrefix(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			update(t, db, func(tx *store.Tx) error {
				for _, k := range []string{"a", "a\x00", "a\x00\x01", "a\x00\xff", "a\x01", "ab", "b", "\xff", "\xff\xff"} {
					if err := tx.Put("p", []byte(k), []byte("v")); err != nil {
						return err
					}
				}
				for i := range 100 { // more than a first page
					if err := tx.Put("p", fmt.Appendf(nil, "m%03d", i), nil); err != nil {
						return err
					}
				}
				return nil
			})
			keys := func(scan func(tx *store.Tx, fn func(k, v []byte) (bool, error)) error) []string {
				var out []string
				if err := db.View(context.Background(), func(tx *store.Tx) error {
					return scan(tx, func(k, _ []byte) (bool, error) { out = append(out, string(k)); return true, nil })
				}); err != nil {
					t.Fatal(err)
				}
				return out
			}
			for _, c := range []struct {
				prefix string
				want   string
			}{
				{"a\x00", `["a\x00" "a\x00\x01" "a\x00\xff"]`},
				{"a", `["a" "a\x00" "a\x00\x01" "a\x00\xff" "a\x01" "ab"]`},
				{"\xff", `["\xff" "\xff\xff"]`},
				{"zz", `[]`},
			} {
				got := keys(func(tx *store.Tx, fn func(k, v []byte) (bool, error)) error {
					return tx.ScanPrefix("p", []byte(c.prefix), fn)
				})
				if fmt.Sprintf("%q", got) != c.want {
					t.Errorf("ScanPrefix(%q) = %q, want %s", c.prefix, got, c.want)
				}
			}
			got := keys(func(tx *store.Tx, fn func(k, v []byte) (bool, error)) error {
				return tx.ScanRange("p", []byte("m010"), []byte("m090"), fn)
			})
			if len(got) != 80 || got[0] != "m010" || got[79] != "m089" {
				t.Errorf("ScanRange(m010, m090) = %d keys %q...", len(got), got[:min(len(got), 3)])
			}
			if got := keys(func(tx *store.Tx, fn func(k, v []byte) (bool, error)) error {
				return tx.ScanRange("p", []byte("b"), []byte("a"), fn)
			}); len(got) != 0 {
				t.Errorf("an empty range lists %q", got)
			}
			if got := keys(func(tx *store.Tx, fn func(k, v []byte) (bool, error)) error {
				return tx.ScanRange("p", nil, []byte("a\x00"), fn)
			}); fmt.Sprintf("%q", got) != `["a"]` {
				t.Errorf("ScanRange(nil, a\\0) = %q", got)
			}
		})
	}
}

func TestPrefixEnd(t *testing.T) {
	for in, want := range map[string]string{"": "", "a": "b", "a\xff": "b", "\xff\xff": "", "a\x00": "a\x01"} {
		got := store.PrefixEnd([]byte(in))
		if string(got) != want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", in, got, want)
		}
		if want == "" && got != nil {
			t.Errorf("PrefixEnd(%q) = %q, want nil (no end: an empty end would be a range of nothing)", in, got)
		}
	}
}
