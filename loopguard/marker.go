package loopguard

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// MarkerHeader is the header deskmail puts on everything it sends. Its value
// is an HMAC of the email's Message-ID, so deskmail recognises its own mail
// when it comes back (an auto-forward to a deskmail address, a
// misconfigured alias) and nobody without the secret can forge it to get
// mail dropped.
const MarkerHeader = "X-Deskmail-Loop"

// markerVersion prefixes the value so that the scheme can change later.
const markerVersion = "v1."

// Marker returns the value of MarkerHeader for an email with this
// Message-ID (with or without <>), computed with the current secret. It
// returns "" when the guard has no secret.
func (g *Guard) Marker(messageID string) string {
	if len(g.opts.Secrets) == 0 {
		return ""
	}
	return markerVersion + base64.RawURLEncoding.EncodeToString(markerMAC(g.opts.Secrets[0], messageID))
}

// markerMAC is HMAC-SHA256 over a domain-separated Message-ID, cut to 128
// bits: enough against forgery, short enough for a header line.
func markerMAC(key []byte, messageID string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte("deskmail-loop\x00"))
	mac.Write([]byte(cleanID(messageID)))
	return mac.Sum(nil)[:16]
}

// verifyMarker reports whether value is a marker of messageID under any of
// the secrets: the first one is current, the others are kept so that mail
// sent before a key rotation is still recognised.
func (g *Guard) verifyMarker(value, messageID string) bool {
	value = strings.TrimSpace(value)
	if !strings.HasPrefix(value, markerVersion) || cleanID(messageID) == "" {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(value[len(markerVersion):])
	if err != nil {
		return false
	}
	for _, k := range g.opts.Secrets {
		if hmac.Equal(got, markerMAC(k, messageID)) {
			return true
		}
	}
	return false
}
