package threading

import (
	"errors"
	"fmt"
	"strings"
)

// RoleLocalParts are the role mailboxes every mail domain must have:
// postmaster (RFC 5321 section 4.5.1) and abuse (RFC 2142 section 2).
// Mail to them is kept and shown to operators, never threaded.
var RoleLocalParts = []string{"postmaster", "abuse"}

// ErrUnknownRecipient is the error of Addresses.Check for an address of
// our domains that takes no mail; the text after it says why.
var ErrUnknownRecipient = errors.New("no such address here")

// Recipient kinds, as Addresses.Check names them in the log.
const (
	RecipientSupport  = "support address"
	RecipientReply    = "reply token"
	RecipientMailFrom = "mail-from address"
	RecipientRole     = "role address"
	RecipientBounce   = "bounce address"
)

// Addresses knows, at RCPT time, which addresses of deskmail's domains
// take mail (SPEC section 5), so a sender learns at once that an address
// is wrong instead of deskmail dropping the email later: the support
// addresses (each entry of the list, aliases included), reply addresses
// whose token verifies, the From address of deskmail's own emails (a
// reply that ignores Reply-To still threads by References), the role
// addresses, and the VERP return paths of outgoing email.
type Addresses struct {
	Tokens       TokenVerifier
	ReplyDomains []string
	Support      []string
	MailFrom     string
	// Bounce tells whether addr is the return path of an outgoing email
	// (queue.ParseVERP); nil accepts none.
	Bounce func(addr string) bool
}

// Check returns the kind of a recipient deskmail takes mail for, or an
// error wrapping ErrUnknownRecipient that says why not. addr is an address
// of one of our domains (the caller refused relaying already) or the bare
// "postmaster" RFC 5321 section 4.5.1 makes every server accept.
func (a *Addresses) Check(addr string) (string, error) {
	b := bareAddress(addr)
	if IsRole(b) {
		return RecipientRole, nil
	}
	if !strings.Contains(b, "@") {
		return "", fmt.Errorf("%w: no domain", ErrUnknownRecipient)
	}
	for _, s := range a.Support {
		if strings.EqualFold(b, bareAddress(s)) {
			return RecipientSupport, nil
		}
	}
	if a.MailFrom != "" && strings.EqualFold(b, bareAddress(a.MailFrom)) {
		return RecipientMailFrom, nil
	}
	if a.Bounce != nil && a.Bounce(b) {
		return RecipientBounce, nil
	}
	if _, err := splitReplyAddress(b, a.ReplyDomains); err == nil && a.Tokens != nil {
		_, err := a.Tokens.ParseReplyAddress(b, a.ReplyDomains)
		if err == nil {
			return RecipientReply, nil
		}
		if errors.Is(err, ErrNotToken) {
			err = errors.New("not a token of ours")
		}
		return "", fmt.Errorf("%w: reply address rejected (%v)", ErrUnknownRecipient, err)
	}
	return "", fmt.Errorf("%w: not a support, reply or role address", ErrUnknownRecipient)
}

// IsRole tells whether addr is a role address (postmaster@, abuse@, or
// the bare postmaster).
func IsRole(addr string) bool {
	b := bareAddress(addr)
	if i := strings.LastIndexByte(b, '@'); i >= 0 {
		b = b[:i]
	}
	for _, r := range RoleLocalParts {
		if strings.EqualFold(b, r) {
			return true
		}
	}
	return false
}
