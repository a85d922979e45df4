package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// fillRanges writes bucket r (k000..k299, more than one range read
// holds), a few keys of s, and r2, a bucket whose name extends r's.
func fillRanges(t *testing.T, db *store.DB) {
	t.Helper()
	update(t, db, func(tx *store.Tx) error {
		for i := range 300 {
			if err := tx.Put("r", fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%03d", i)); err != nil {
				return err
			}
		}
		for i := range 5 {
			if err := tx.Put("s", fmt.Appendf(nil, "s%d", i), nil); err != nil {
				return err
			}
		}
		return tx.Put("r2", []byte("k011"), []byte("other bucket"))
	})
}

// keysIn lists k=v of bucket from from (to: excluded, nil none; ranged:
// with ScanRange, else Scan stopping at to), at most max.
func keysIn(tx *store.Tx, bucket, from, to string, ranged bool, max int) string {
	var out []string
	var f, e []byte
	if from != "" {
		f = []byte(from)
	}
	if to != "" {
		e = []byte(to)
	}
	fn := func(k, v []byte) (bool, error) {
		if !ranged && e != nil && string(k) >= to {
			return false, nil
		}
		out = append(out, string(k)+"="+string(v))
		return len(out) < max, nil
	}
	var err error
	if ranged {
		err = tx.ScanRange(bucket, f, e, fn)
	} else {
		err = tx.Scan(bucket, f, fn)
	}
	if err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(out, " ")
}

func want(from, to int, edit func([]string) []string) string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("k%03d=v%03d", i, i))
	}
	if edit != nil {
		out = edit(out)
	}
	return strings.Join(out, " ")
}

// Scans of ranges read with the transaction's first round trip
// (ReadsRange) or by PrefetchRanges answer exactly as scans of the
// database would, with the transaction's own writes, on both sides of a
// range's end and of the row limit of a range read.
func TestRangesAnswerAsScanWould(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			fillRanges(t, db)
			edited := func(ks []string) []string {
				// k012 deleted, k015 rewritten, k0155 added.
				ks = slices.DeleteFunc(ks, func(s string) bool { return strings.HasPrefix(s, "k012=") })
				i := slices.Index(ks, "k015=v015")
				ks[i] = "k015=new"
				return slices.Insert(ks, i+1, "k0155=ins")
			}
			err := db.Update(context.Background(), func(tx *store.Tx) error {
				checks := []struct{ got, want string }{
					{keysIn(tx, "r", "k010", "k020", true, 100), want(10, 20, nil)},
					{keysIn(tx, "r", "k010", "k020", false, 100), want(10, 20, nil)},
					{keysIn(tx, "r", "k0105", "k0125", true, 100), want(11, 13, nil)},
				}
				for _, w := range [][2]string{{"k015", "new"}, {"k0155", "ins"}, {"k999", "late"}} {
					if err := tx.Put("r", []byte(w[0]), []byte(w[1])); err != nil {
						return err
					}
				}
				if err := tx.Delete("r", []byte("k012")); err != nil {
					return err
				}
				checks = append(checks, []struct{ got, want string }{
					{keysIn(tx, "r", "k010", "k020", true, 100), want(10, 20, edited)},
					{keysIn(tx, "r", "k010", "k020", false, 100), want(10, 20, edited)},
					{keysIn(tx, "r", "k009", "k021", true, 100), want(9, 21, edited)},
					// Across the end of the first 256 rows of the whole
					// bucket's read, and on to a key written now.
					{keysIn(tx, "r", "k250", "", false, 100), want(250, 300, nil) + " k999=late"},
					{keysIn(tx, "r", "k250", "k260", true, 100), want(250, 260, nil)},
					{keysIn(tx, "r", "k250", "", true, 100), want(250, 300, nil) + " k999=late"},
					{keysIn(tx, "r", "", "", true, 3), want(0, 3, nil)},
					{keysIn(tx, "s", "", "", false, 100), "s0= s1= s2= s3= s4="},
					{keysIn(tx, "r2", "", "", false, 100), "k011=other bucket"},
					{keysIn(tx, "r", "k100", "k100", true, 100), ""},
				}...)
				for i, c := range checks {
					if c.got != c.want {
						return fmt.Errorf("check %d: got %q, want %q", i, c.got, c.want)
					}
				}
				return nil
			}, store.ReadsRange("r", []byte("k010"), []byte("k020")), store.ReadsRange("r", nil, nil),
				store.ReadsRange("s", nil, nil), store.ReadsRange("r", []byte("k100"), []byte("k100")))
			if err != nil {
				t.Fatal(err)
			}
			// The same from a transaction that read nothing ahead, and
			// from a View that prefetched.
			err = db.View(context.Background(), func(tx *store.Tx) error {
				if got, w := keysIn(tx, "r", "k009", "k021", true, 100), want(9, 21, edited); got != w {
					return fmt.Errorf("view: got %q, want %q", got, w)
				}
				tx.PrefetchRanges([]store.Range{{Bucket: "r", From: []byte("k000"), To: []byte("k030")}},
					store.Key{Bucket: "s", Key: []byte("s1")})
				if got, w := keysIn(tx, "r", "k009", "k021", false, 100), want(9, 21, edited); got != w {
					return fmt.Errorf("view after PrefetchRanges: got %q, want %q", got, w)
				}
				if v := tx.Get("s", []byte("s1")); v == nil || len(v) != 0 {
					return fmt.Errorf("view: prefetched s1 = %#v", v)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A function that fails is undone alone inside its batch on PostgreSQL:
// the rows of a range it read, and its writes into a range read for the
// whole batch, must not show in the next function's scans.
func TestRangesOfAFailedFunctionAreUndone(t *testing.T) {
	for name, open := range backends() {
		t.Run(name, func(t *testing.T) {
			db := open(t)
			fillRanges(t, db)
			errBoom := errors.New("boom")
			var got1, got2 string
			errs := db.RunBatchWith([]func(*store.Tx) error{
				func(tx *store.Tx) error {
					// Writes into the batch's range, then fails.
					if err := tx.Delete("r", []byte("k013")); err != nil {
						return err
					}
					if err := tx.Put("r", []byte("k0131"), []byte("x")); err != nil {
						return err
					}
					return errBoom
				},
				func(tx *store.Tx) error {
					// Reads a range of its own, writes into it, fails.
					tx.PrefetchRanges([]store.Range{{Bucket: "r", From: []byte("k040"), To: []byte("k050")}})
					if err := tx.Put("r", []byte("k0451"), []byte("x")); err != nil {
						return err
					}
					return errBoom
				},
				func(tx *store.Tx) error {
					got1 = keysIn(tx, "r", "k010", "k020", true, 100)
					got2 = keysIn(tx, "r", "k040", "k050", false, 100)
					return nil
				},
			}, [][]store.UpdateOption{nil, nil, {store.ReadsRange("r", []byte("k010"), []byte("k020"))}})
			if !errors.Is(errs[0], errBoom) || !errors.Is(errs[1], errBoom) || errs[2] != nil {
				t.Fatalf("errors %v", errs)
			}
			if w := want(10, 20, nil); got1 != w {
				t.Errorf("batch range after a failed function: %q, want %q", got1, w)
			}
			if w := want(40, 50, nil); got2 != w {
				t.Errorf("range read by a failed function: %q, want %q", got2, w)
			}
		})
	}
}

// What a transaction knows it reads without a round trip: a scan inside
// a range read with its first round trip, a range it prefetched, a key
// it was told is absent (a fresh id).
func TestKnownRangesCostNoRoundTrip(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	fillRanges(t, db)
	trips := func(fn func(*store.Tx) error, opts ...store.UpdateOption) int64 {
		t.Helper()
		before := db.RoundTrips()
		if err := db.Update(context.Background(), fn, opts...); err != nil {
			t.Fatal(err)
		}
		return db.RoundTrips() - before
	}
	scans := func(tx *store.Tx) error {
		a := keysIn(tx, "r", "k010", "k020", true, 100)
		if err := tx.Put("r", []byte("k0111"), []byte("new")); err != nil {
			return err
		}
		// Scan has no end: it stops inside the range, or reads on.
		b := keysIn(tx, "r", "k010", "", false, 3)
		c := keysIn(tx, "r", "k011", "k0112", true, 100)
		if want(10, 20, nil) != a || b != "k010=v010 k011=v011 k0111=new" || c != "k011=v011 k0111=new" {
			return fmt.Errorf("scans %q %q %q", a, b, c)
		}
		if tx.Get("fresh", []byte("id")) != nil {
			return errors.New("fresh key found")
		}
		return tx.Put("fresh", []byte("id"), []byte("made"))
	}
	absent := func(tx *store.Tx) { tx.Absent("fresh", []byte("id")) }
	// BEGIN with the locks and reads, then the writes with the COMMIT.
	if n := trips(func(tx *store.Tx) error { absent(tx); return scans(tx) },
		store.ReadsRange("r", []byte("k010"), []byte("k020"))); n != 2 {
		t.Errorf("declared range: %d round trips, want 2", n)
	}
	reset := func(tx *store.Tx) error {
		if err := tx.Delete("fresh", []byte("id")); err != nil {
			return err
		}
		return tx.Delete("r", []byte("k0111"))
	}
	update(t, db, reset)
	if n := trips(func(tx *store.Tx) error {
		tx.PrefetchRanges([]store.Range{{Bucket: "r", From: []byte("k010"), To: []byte("k020")}})
		absent(tx)
		tx.Absent("fresh", []byte("id")) // known already: left as it is
		return scans(tx)
	}); n != 3 {
		t.Errorf("prefetched range: %d round trips, want 3", n)
	}
	// Without them: a read for each scan and the Get, the second scan's
	// also sending the Put queued before it.
	update(t, db, reset)
	if n := trips(scans); n < 5 {
		t.Errorf("nothing known: %d round trips, want at least 5", n)
	}
}
