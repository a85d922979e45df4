package threading

import (
	"errors"
	"strings"
	"testing"
)

func TestAddressesCheck(t *testing.T) {
	k, err := NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := k.ReplyAddress("c1", "p1", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	a := &Addresses{Tokens: k, ReplyDomains: []string{"example.test"},
		Support:  []string{"support@example.test", "Help@Example.test"},
		MailFrom: "notifications@example.test",
		Bounce:   func(addr string) bool { return strings.HasPrefix(addr, "bounce+") }}
	for _, tc := range []struct {
		name, addr, kind, why string
	}{
		{"support address", "support@example.test", RecipientSupport, ""},
		{"alias in any case", "HELP@example.TEST", RecipientSupport, ""},
		{"reply token that verifies", reply, RecipientReply, ""},
		{"reply token in angle brackets", "<" + reply + ">", RecipientReply, ""},
		{"mail-from", "Notifications@example.test", RecipientMailFrom, ""},
		{"postmaster", "postmaster@example.test", RecipientRole, ""},
		{"bare postmaster", "Postmaster", RecipientRole, ""},
		{"abuse", "abuse@example.test", RecipientRole, ""},
		{"bounce", "bounce+j1@example.test", RecipientBounce, ""},
		{"unknown local part", "nosuchuser@example.test", "", "not a support, reply or role address"},
		{"typo", "suport@example.test", "", "not a support"},
		{"forged token", "reply+AAAAforged@example.test", "", "reply address rejected"},
		{"bare other name", "root", "", "no domain"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kind, err := a.Check(tc.addr)
			if tc.why == "" {
				if err != nil || kind != tc.kind {
					t.Fatalf("Check(%q) = %q, %v; want %q", tc.addr, kind, err, tc.kind)
				}
				return
			}
			if !errors.Is(err, ErrUnknownRecipient) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Check(%q) = %q, %v; want ErrUnknownRecipient saying %q", tc.addr, kind, err, tc.why)
			}
		})
	}
}
