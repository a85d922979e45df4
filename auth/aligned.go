package auth

import "github.com/emersion/go-msgauth/dmarc"

// DKIMAligned tells whether a DKIM signature that verified aligns (relaxed,
// RFC 7489 section 3.1.1) with the From domain. Unlike Authenticated, an
// SPF pass does not count: a DKIM signature stays with the message, so it
// is what a feedback loop's report is trusted on.
func (r Result) DKIMAligned() bool {
	for _, d := range r.DKIM {
		if d.Result == "pass" && aligned(d.Domain, r.FromDomain, dmarc.AlignmentRelaxed) {
			return true
		}
	}
	return false
}

// SameOrganization tells whether two domains share an organizational
// domain (RFC 7489 section 3.2).
func SameOrganization(a, b string) bool { return aligned(a, b, dmarc.AlignmentRelaxed) }
