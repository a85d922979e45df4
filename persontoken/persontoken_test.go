package persontoken

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
)

func setup(t testing.TB) (*store.DB, *Keyring, *clock.Fake) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	return db, &Keyring{Secret: []byte("0123456789abcdef0123456789abcdef"), Clock: clk}, clk
}

func mint(t *testing.T, db *store.DB, k *Keyring, person string, ttl time.Duration) string {
	t.Helper()
	var tok string
	if err := db.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		tok, _, err = k.Mint(tx, person, ttl)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return tok
}

// check runs Check in a transaction and CheckDB, which must agree.
func check(db *store.DB, k *Keyring, tok string) (c Claims, err error) {
	_ = db.View(context.Background(), func(tx *store.Tx) error { c, err = k.Check(tx, tok); return nil })
	c2, err2 := k.CheckDB(context.Background(), db, tok)
	if c2 != c || err2 != err {
		return c2, fmt.Errorf("CheckDB answers %+v, %v; Check %+v, %v", c2, err2, c, err)
	}
	return c, err
}

func TestTokenRules(t *testing.T) {
	db, k, clk := setup(t)
	tok := mint(t, db, k, "agent.1", time.Hour)
	if c, err := check(db, k, tok); err != nil || c.Person != "agent.1" {
		t.Fatalf("fresh token: %+v %v", c, err)
	}
	t.Run("another secret does not verify it", func(t *testing.T) {
		other := &Keyring{Secret: []byte("another secret of the same length"), Clock: clk}
		if _, err := check(db, other, tok); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a changed person does not verify", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		parts[1] = "YWdlbnQuMg" // agent.2
		if _, err := check(db, k, strings.Join(parts, ".")); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("a later expiry does not verify", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		parts[3] = "99999999999"
		if _, err := check(db, k, strings.Join(parts, ".")); !errors.Is(err, ErrSignature) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		for _, s := range []string{"", "dmp1.", "dmp1....", "api-token", Prefix + strings.Repeat("a", MaxLen)} {
			if _, err := check(db, k, s); err == nil {
				t.Errorf("%q verified", s)
			}
		}
	})
	t.Run("ttl bounds", func(t *testing.T) {
		for _, ttl := range []time.Duration{0, time.Second, MaxTTL + time.Second} {
			if err := db.View(context.Background(), func(tx *store.Tx) error { _, _, err := k.Mint(tx, "p", ttl); return err }); !errors.Is(err, ErrTTL) {
				t.Errorf("ttl %s: %v", ttl, err)
			}
		}
	})
	t.Run("expires", func(t *testing.T) {
		short := mint(t, db, k, "p", MinTTL)
		clk.Advance(MinTTL - time.Second)
		if _, err := check(db, k, short); err != nil {
			t.Fatalf("before expiry: %v", err)
		}
		clk.Advance(time.Second)
		if _, err := check(db, k, short); !errors.Is(err, ErrExpired) {
			t.Fatalf("at expiry: %v", err)
		}
	})
	t.Run("revoke ends the person's tokens only", func(t *testing.T) {
		mine := mint(t, db, k, "ann", time.Hour)
		theirs := mint(t, db, k, "bob", time.Hour)
		if err := db.Update(context.Background(), func(tx *store.Tx) error { return Revoke(tx, "ann") }); err != nil {
			t.Fatal(err)
		}
		if _, err := check(db, k, mine); !errors.Is(err, ErrRevoked) {
			t.Errorf("ann's old token: %v", err)
		}
		if _, err := check(db, k, theirs); err != nil {
			t.Errorf("bob's token: %v", err)
		}
		if _, err := check(db, k, mint(t, db, k, "ann", time.Hour)); err != nil {
			t.Errorf("ann's new token: %v", err)
		}
	})
}

// FuzzCheck: a token is untrusted input from any browser.
func FuzzCheck(f *testing.F) {
	db, k, _ := setup(f)
	var tok string
	_ = db.Update(context.Background(), func(tx *store.Tx) error { tok, _, _ = k.Mint(tx, "p", time.Hour); return nil })
	for _, s := range []string{tok, "", "dmp1.", "dmp1.a.b.c.d", "dmp1.%%%.1.2.3", tok + "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := check(db, k, s)
		if err == nil && s != tok {
			t.Fatalf("%q verified as %+v", s, c)
		}
	})
}

// BenchmarkCheck: the cost a person token adds to a request (the HMAC
// and one store read of the generation).
func BenchmarkCheck(b *testing.B) {
	db, k, _ := setup(b)
	var tok string
	_ = db.Update(context.Background(), func(tx *store.Tx) error { tok, _, _ = k.Mint(tx, "agent-1", time.Hour); return nil })
	b.ReportAllocs()
	for b.Loop() {
		if _, err := check(db, k, tok); err != nil {
			b.Fatal(err)
		}
	}
}
