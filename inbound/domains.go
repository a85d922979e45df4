package inbound

import (
	"strings"

	"golang.org/x/net/idna"
)

// Domains is the set of domains deskmail accepts mail for. Anything else is
// relaying, which deskmail never does.
type Domains map[string]bool

// NewDomains normalises the configured names (case, trailing dot, IDNA).
func NewDomains(names []string) Domains {
	d := Domains{}
	for _, n := range names {
		d[normalizeDomain(n)] = true
	}
	return d
}

func normalizeDomain(d string) string {
	d = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
	if a, err := idna.Lookup.ToASCII(d); err == nil {
		return a
	}
	return d
}

// Accepts tells whether addr is an address of one of the domains, or the
// bare "postmaster" every SMTP server must accept (RFC 5321 section 4.5.1).
func (d Domains) Accepts(addr string) bool {
	if strings.EqualFold(addr, "postmaster") {
		return true
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return false
	}
	return d[normalizeDomain(addr[at+1:])]
}
