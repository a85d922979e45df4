package auth

import (
	"context"
	"strings"
	"testing"
)

// Issue 21 (review of item 6): a record found at the organizational
// domain gives its sp= to a From domain below it (RFC 7489 section
// 6.6.3); pct= below 100 is noted and every failure still counts. The
// records come from a DNS server on 127.0.0.1 (dnstest) through the
// daemon's resolver.
func TestDMARCSubdomainPolicy(t *testing.T) {
	srv, d, _ := dnsFixture(t, 100)
	srv.TXT("_dmarc.lax.test", "v=DMARC1; p=none; sp=reject")
	srv.TXT("_dmarc.strict.test", "v=DMARC1; p=reject; sp=none")
	srv.TXT("_dmarc.plain.test", "v=DMARC1; p=quarantine")
	srv.TXT("_dmarc.sampled.test", "v=DMARC1; p=reject; pct=20")
	srv.TXT("_dmarc.own.lax.test", "v=DMARC1; p=none")
	srv.TXT("evil.test", "v=spf1 ip4:192.0.2.1 -all")
	c := &Checker{Resolver: d}
	for _, tc := range []struct{ from, policy, note string }{
		{"lax.test", "none", ""},
		{"mail.lax.test", "reject", ""},       // sp= of the organizational record
		{"own.lax.test", "none", ""},          // its own record: its p=
		{"strict.test", "reject", ""},         //
		{"mail.strict.test", "none", ""},      // sp=none
		{"mail.plain.test", "quarantine", ""}, // no sp=: p=
		{"sampled.test", "reject", "pct=20"},
	} {
		raw := strings.Replace(plain, "agent@corp.test", "bea@"+tc.from, 1)
		r := c.Check(context.Background(), Input{RemoteIP: "192.0.2.1", MailFrom: "m@evil.test", Raw: []byte(raw)})
		if r.DMARC != "fail" || r.Policy != tc.policy {
			t.Errorf("From %s: dmarc=%s policy %q, want fail and %q (%s)", tc.from, r.DMARC, r.Policy, tc.policy, r)
		}
		if notes := strings.Join(r.Notes, "; "); (tc.note != "") != strings.Contains(notes, "pct=") || !strings.Contains(notes, tc.note) {
			t.Errorf("From %s: notes %q, want %q", tc.from, notes, tc.note)
		}
	}
}
