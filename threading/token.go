package threading

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
)

// Reply token format, version 1 (docs/THREADING.md has the picture):
//
//	payload = version(1) | len(conv)(1) | conv | len(recipient)(1) | recipient
//	mac     = HMAC-SHA256(secret, "deskmail/reply-token\x00" | payload)[:10]
//	TOKEN   = lowercase base32 (RFC 4648 section 6 alphabet, no padding) of payload | mac
//
// Base32 is case-insensitive by construction, so a token survives an MTA
// that lowercases (or uppercases) the local part, which RFC 5321 section
// 2.4 allows receivers to do even though senders must not rely on it.
// The alphabet has no '+', '-' or '.', so the token never collides with
// the separator or needs quoting in a dot-atom (RFC 5322 section 3.2.3).
const (
	// TokenVersion is the format version written into every new token.
	TokenVersion = 1

	// MaxIDLen is the longest conversation or person ID a token carries.
	// The length prefix is one byte; 64 keeps the worst-case address
	// within what common MTAs accept (Postfix, Exim: no limit; some
	// strict receivers cut at 64 octets, see MaxCompactIDLen).
	MaxIDLen = 64

	// MaxCompactIDLen is the combined length of conversation and
	// recipient IDs for which "reply+TOKEN" stays within the 64-octet
	// local-part limit of RFC 5321 section 4.5.3.1.1:
	// 6 ("reply+") + ceil(8*(13+n)/5) <= 64  <=>  n <= 23.
	// Longer IDs still work with every MTA we know of, but are
	// outside the letter of the RFC; prefer short stable IDs.
	MaxCompactIDLen = 23

	// macLen is the number of HMAC-SHA256 bytes kept: 80 bits, the floor
	// of RFC 2104 section 5. Its other advice (half the hash, 128 bits)
	// is about birthday attacks; forging a token is online only, one
	// email per guess, ~2^79 emails on average.
	macLen = 10

	// ReplyLocalPrefix is the local part that starts every reply address.
	ReplyLocalPrefix = "reply"
)

// macContext separates reply-token MACs from every other use of the same
// secret (Message-ID tags, thread roots), so one can't be replayed as the other.
const macContext = "deskmail/reply-token\x00"

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Errors returned by ParseReplyAddress and Token; compare with errors.Is.
var (
	// ErrNotToken: the address is not a reply address of ours at all
	// (other local part, other domain, not base32, wrong layout).
	ErrNotToken = errors.New("threading: not a reply token address")
	// ErrBadVersion: the layout parsed but the version byte is unknown.
	ErrBadVersion = errors.New("threading: unknown reply token version")
	// ErrBadSignature: a well-formed token whose MAC matches no key:
	// forged, altered, or signed by a secret that was rotated out.
	ErrBadSignature = errors.New("threading: reply token signature does not match")
	// ErrBadID: an ID given to Token is empty or longer than MaxIDLen.
	ErrBadID = errors.New("threading: ID empty or too long for a reply token")
)

// Token is what a verified reply address tells us.
type Token struct {
	Conversation string // conversation ID the email was about
	Recipient    string // person ID the email was sent to
	Version      int    // token format version (TokenVersion)
	// KeyID names the secret that verified the token (see Keyring.KeyIDs);
	// a token verified by an old key is still valid, but says the
	// reply answers an email sent before the last rotation.
	KeyID string
	// Current is true when KeyID is the current secret.
	Current bool
}

// encodePayload builds the unsigned token bytes.
func encodePayload(conv, recipient string) ([]byte, error) {
	if conv == "" || len(conv) > MaxIDLen {
		return nil, fmt.Errorf("conversation ID %d bytes: %w", len(conv), ErrBadID)
	}
	if recipient == "" || len(recipient) > MaxIDLen {
		return nil, fmt.Errorf("recipient ID %d bytes: %w", len(recipient), ErrBadID)
	}
	p := make([]byte, 0, 3+len(conv)+len(recipient)+macLen)
	p = append(p, TokenVersion, byte(len(conv)))
	p = append(p, conv...)
	p = append(p, byte(len(recipient)))
	p = append(p, recipient...)
	return p, nil
}

// decodePayload is the strict inverse of encodePayload: every byte must be
// accounted for, so two different byte strings never decode to one token.
func decodePayload(p []byte) (conv, recipient string, version int, err error) {
	if len(p) < 1 {
		return "", "", 0, ErrNotToken
	}
	version = int(p[0])
	if version != TokenVersion {
		return "", "", version, ErrBadVersion
	}
	rest := p[1:]
	conv, rest, ok := takeLenPrefixed(rest)
	if !ok {
		return "", "", version, ErrNotToken
	}
	recipient, rest, ok = takeLenPrefixed(rest)
	if !ok || len(rest) != 0 {
		return "", "", version, ErrNotToken
	}
	return conv, recipient, version, nil
}

func takeLenPrefixed(b []byte) (s string, rest []byte, ok bool) {
	if len(b) < 1 {
		return "", nil, false
	}
	n := int(b[0])
	if n == 0 || n > MaxIDLen || len(b) < 1+n {
		return "", nil, false
	}
	return string(b[1 : 1+n]), b[1+n:], true
}

func tokenMAC(secret, payload []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(macContext))
	m.Write(payload)
	return m.Sum(nil)[:macLen]
}

// mintToken signs payload with secret and encodes it.
func mintToken(secret []byte, conv, recipient string) (string, error) {
	p, err := encodePayload(conv, recipient)
	if err != nil {
		return "", err
	}
	p = append(p, tokenMAC(secret, p)...)
	return b32.EncodeToString(p), nil
}

// parseToken decodes TOKEN (any letter case) and checks the MAC against
// each key in turn, current first. Every key is tried with hmac.Equal so
// the comparison itself leaks no timing about the expected MAC.
func parseToken(s string, keys []key) (Token, error) {
	// Longest legal token: 13+2*MaxIDLen bytes -> 226 base32 chars.
	if len(s) == 0 || len(s) > b32.EncodedLen(3+2*MaxIDLen+macLen) {
		return Token{}, ErrNotToken
	}
	lower := strings.ToLower(s)
	raw, err := b32.DecodeString(lower)
	if err != nil || len(raw) < 3+2+macLen {
		return Token{}, ErrNotToken
	}
	// Base32 without padding ignores non-zero trailing bits; insist on
	// the canonical spelling so one token has exactly one valid form.
	if b32.EncodeToString(raw) != lower {
		return Token{}, ErrNotToken
	}
	payload, mac := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	conv, recipient, version, err := decodePayload(payload)
	if err != nil {
		return Token{}, err
	}
	for i, k := range keys {
		if hmac.Equal(mac, tokenMAC(k.secret, payload)) {
			return Token{Conversation: conv, Recipient: recipient, Version: version, KeyID: k.id, Current: i == 0}, nil
		}
	}
	return Token{}, ErrBadSignature
}

// splitReplyAddress takes "reply+TOKEN@domain" (optionally in angle
// brackets, any case) and returns TOKEN if the domain is one of domains.
//
// Separator: deskmail writes '+' (the sub-address separator of Postfix,
// Gmail, Microsoft 365, Dovecot). It also accepts '-' because qmail and
// some Exim setups use "-" as recipient delimiter and rewrite '+'
// addresses. Both are safe: the token alphabet has neither character,
// and a "reply-xyz" mailbox can only match if xyz carries a valid MAC.
func splitReplyAddress(addr string, domains []string) (string, error) {
	a := bareAddress(addr)
	at := strings.LastIndexByte(a, '@')
	if at < 0 {
		return "", ErrNotToken
	}
	local, domain := a[:at], strings.TrimSuffix(a[at+1:], ".")
	if !domainIn(domain, domains) {
		return "", ErrNotToken
	}
	if len(local) < len(ReplyLocalPrefix)+2 || !strings.EqualFold(local[:len(ReplyLocalPrefix)], ReplyLocalPrefix) {
		return "", ErrNotToken
	}
	switch local[len(ReplyLocalPrefix)] {
	case '+', '-':
	default:
		return "", ErrNotToken
	}
	return local[len(ReplyLocalPrefix)+1:], nil
}

// bareAddress removes white space and angle brackets around an addr-spec.
func bareAddress(addr string) string {
	a := strings.TrimSpace(addr)
	return strings.TrimSuffix(strings.TrimPrefix(a, "<"), ">")
}

func domainIn(d string, domains []string) bool {
	for _, x := range domains {
		if strings.EqualFold(d, strings.TrimSuffix(x, ".")) {
			return true
		}
	}
	return false
}

// replyAddress formats the address deskmail puts into Reply-To.
func replyAddress(token, domain string) string {
	return ReplyLocalPrefix + "+" + token + "@" + domain
}
