package threading

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzToken parses arbitrary addresses and mints tokens for arbitrary IDs.
// Anything that verifies must be exactly a token we could have minted: the
// same IDs re-encode to the same token (ignoring letter case).
func FuzzToken(f *testing.F) {
	k := testKeyring(f)
	good, _ := k.ReplyAddress("c42", "p7", "help.example.com")
	for _, s := range []string{
		good, strings.ToUpper(good), strings.Replace(good, "+", "-", 1), "<" + good + ">",
		"reply+@help.example.com", "reply+aaaa@help.example.com", "reply@help.example.com",
		"@", "", "reply+" + strings.Repeat("a", 300) + "@help.example.com",
		"reply+\xff\xfe@help.example.com",
	} {
		f.Add(s, "c42", "p7")
	}
	f.Fuzz(func(t *testing.T, addr, conv, recipient string) {
		tok, err := k.ParseReplyAddress(addr, domains)
		if err == nil {
			again, err := k.Token(tok.Conversation, tok.Recipient)
			if err != nil {
				t.Fatalf("verified %q but cannot re-mint %+v: %v", addr, tok, err)
			}
			raw, _ := splitReplyAddress(addr, domains)
			if strings.ToLower(raw) != again {
				t.Fatalf("verified %q as %+v, but we mint %q", addr, tok, again)
			}
		} else if !errors.Is(err, ErrNotToken) && !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrBadVersion) {
			t.Fatalf("ParseReplyAddress(%q): unexpected error %v", addr, err)
		}
		// Minting and parsing round-trip for every legal ID.
		ra, err := k.ReplyAddress(conv, recipient, "help.example.com")
		if err != nil {
			if !errors.Is(err, ErrBadID) {
				t.Fatalf("ReplyAddress(%q, %q): %v", conv, recipient, err)
			}
			return
		}
		got, err := k.ParseReplyAddress(strings.ToLower(ra), domains)
		if err != nil || got.Conversation != conv || got.Recipient != recipient {
			t.Fatalf("round trip of (%q, %q) via %q = %+v, %v", conv, recipient, ra, got, err)
		}
	})
}

// FuzzQuoteStrip: never panic, and the stripper's promises hold for any
// input (checkStripProperties): nothing invented or reordered, never
// empty for text with text in it, stripping twice changes nothing.
func FuzzQuoteStrip(f *testing.F) {
	inputs, _ := filepath.Glob("testdata/strip/*")
	for _, in := range inputs {
		if b, err := os.ReadFile(in); err == nil && !strings.HasSuffix(in, ".golden") {
			f.Add(string(b))
		}
	}
	f.Add("On 1 wrote:\n" + strings.Repeat("\n", 10) + "> q\nx")
	f.Add("From: a\r\n\r\nSent: b\r\nTo: c\r\n")
	f.Add("0\r\r")
	f.Fuzz(func(t *testing.T, in string) {
		checkStripProperties(t, in)
		StripHTML(in)
	})
}
