package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// FakeDNS answers from a map; every other name does not exist.
type FakeDNS map[string][]string

func (f FakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}
func (f FakeDNS) LookupMX(context.Context, string) ([]*net.MX, error) {
	return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}
func (f FakeDNS) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) {
	return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}
func (f FakeDNS) LookupAddr(context.Context, string) ([]string, error) {
	return nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

const plain = "From: Agent <agent@corp.test>\r\nTo: reply+x@help.test\r\nSubject: hi\r\nMessage-ID: <1@corp.test>\r\n\r\nhello\r\n"

func sign(t *testing.T, domain string, key ed25519.PrivateKey, msg string) string {
	t.Helper()
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(msg), &dkim.SignOptions{Domain: domain, Selector: "s1", Signer: key}); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestCheck(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	dns := FakeDNS{
		"corp.test":               {"v=spf1 ip4:192.0.2.0/24 -all"},
		"_dmarc.corp.test":        {"v=DMARC1; p=reject"},
		"s1._domainkey.corp.test": {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)},
		"evil.test":               {"v=spf1 ip4:203.0.113.0/24 -all"},
		"s1._domainkey.evil.test": {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)},
	}
	forwarded := "Authentication-Results: mx.google.com; dkim=pass header.d=corp.test; spf=pass smtp.mailfrom=corp.test; dmarc=pass header.from=corp.test\r\n" + plain
	forgedBelow := "Authentication-Results: mx.google.com; spf=fail smtp.mailfrom=corp.test\r\n" + forwarded
	c := &Checker{Resolver: dns, TrustedRelays: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		ForwarderIPs: []netip.Prefix{netip.MustParsePrefix("209.85.128.0/17")},
		ForwarderIDs: []string{"mx.google.com"}}
	cases := []struct {
		name       string
		in         Input
		authed     bool
		spf, dmarc string
	}{
		{"SPF pass aligned with From", Input{RemoteIP: "192.0.2.7", MailFrom: "agent@corp.test", Raw: []byte(plain)}, true, "pass", "pass"},
		{"spoofed agent: SPF fails, no DKIM", Input{RemoteIP: "203.0.113.9", MailFrom: "agent@corp.test", Raw: []byte(plain)}, false, "fail", "fail"},
		{"SPF pass for another domain does not align", Input{RemoteIP: "203.0.113.9", MailFrom: "bounce@evil.test", Raw: []byte(plain)}, false, "pass", "fail"},
		{"DKIM pass aligned, SPF fails", Input{RemoteIP: "203.0.113.9", MailFrom: "agent@corp.test", Raw: []byte(sign(t, "corp.test", priv, plain))}, true, "fail", "pass"},
		{"DKIM pass by another domain does not align", Input{RemoteIP: "203.0.113.9", MailFrom: "x@evil.test", Raw: []byte(sign(t, "evil.test", priv, plain))}, false, "pass", "fail"},
		{"DKIM body altered after signing", Input{RemoteIP: "203.0.113.9", MailFrom: "agent@corp.test", Raw: []byte(strings.Replace(sign(t, "corp.test", priv, plain), "hello", "pay me", 1))}, false, "fail", "fail"},
		{"trusted relay", Input{RemoteIP: "10.1.2.3", MailFrom: "agent@corp.test", Raw: []byte(plain)}, true, "fail", "fail"},
		{"forwarder results from its IP", Input{RemoteIP: "209.85.130.1", MailFrom: "fwd@gmail.test", Raw: []byte(forwarded)}, true, "none", "fail"},
		{"forwarder results from another IP are ignored", Input{RemoteIP: "203.0.113.9", MailFrom: "fwd@gmail.test", Raw: []byte(forwarded)}, false, "none", "fail"},
		{"only the topmost forwarder header counts", Input{RemoteIP: "209.85.130.1", MailFrom: "fwd@gmail.test", Raw: []byte(forgedBelow)}, false, "none", "fail"},
		{"no IP: no SPF", Input{Raw: []byte(plain)}, false, "none", "fail"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.Check(context.Background(), tc.in)
			if r.Authenticated() != tc.authed || r.SPF != tc.spf || r.DMARC != tc.dmarc {
				t.Errorf("authenticated=%v spf=%s dmarc=%s, want %v %s %s (%s; %v)", r.Authenticated(), r.SPF, r.DMARC, tc.authed, tc.spf, tc.dmarc, r, r.Notes)
			}
		})
	}
}

func TestNoDMARCRecordStillAligns(t *testing.T) {
	dns := FakeDNS{"small.test": {"v=spf1 ip4:192.0.2.1 -all"}}
	c := &Checker{Resolver: dns}
	raw := strings.Replace(plain, "corp.test", "mail.small.test", 1)
	r := c.Check(context.Background(), Input{RemoteIP: "192.0.2.1", MailFrom: "a@small.test", Raw: []byte(raw)})
	if !r.Aligned || r.DMARC != "none" {
		t.Errorf("%s aligned=%v", r, r.Aligned)
	}
	if got := r.String(); !strings.Contains(got, "spf=pass smtp.mailfrom=small.test") || !strings.Contains(got, "dmarc=none header.from=mail.small.test") {
		t.Errorf("String() = %s", got)
	}
}

func TestTwoFromAddressesNeverAlign(t *testing.T) {
	dns := FakeDNS{"corp.test": {"v=spf1 ip4:192.0.2.0/24 -all"}}
	raw := strings.Replace(plain, "From: Agent <agent@corp.test>", "From: agent@corp.test, x@evil.test", 1)
	r := (&Checker{Resolver: dns}).Check(context.Background(), Input{RemoteIP: "192.0.2.7", MailFrom: "agent@corp.test", Raw: []byte(raw)})
	if r.Authenticated() {
		t.Errorf("authenticated with two From addresses: %s", r)
	}
}
