package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"
)

// dkimByVerifier is Checker.dkim as it was: every email through
// dkim.VerifyWithOptions.
func dkimByVerifier(c *Checker, raw []byte) ([]DKIM, []string) {
	var notes []string
	vs, err := dkim.VerifyWithOptions(strings.NewReader(string(raw)), &dkim.VerifyOptions{
		MaxVerifications: MaxDKIMSignatures,
		LookupTXT:        func(name string) ([]string, error) { return c.Resolver.LookupTXT(context.Background(), name) },
	})
	if err != nil {
		notes = append(notes, "err: "+err.Error())
	}
	var out []DKIM
	for _, v := range vs {
		out = append(out, DKIM{Domain: strings.ToLower(v.Domain), Result: fmt.Sprint(v.Err == nil)})
	}
	return out, notes
}

// TestUnsignedSameAsVerifier: wherever unsigned says an email carries no
// signature, the verifier finds none and no error, on generated headers
// with signature fields in every case, folded, with the non-ASCII K and
// ſ that strings.EqualFold folds, without an end, with bare LFs.
func TestUnsignedSameAsVerifier(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	c := &Checker{Resolver: FakeDNS{"s1._domainkey.corp.test": {"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}}}
	signed := sign(t, "corp.test", priv, plain)
	rng := mrand.New(mrand.NewPCG(27, 8))
	pieces := []string{"From: a@corp.test", "Subject: dkim-signature", "DKIM-Signature: v=1", "dkim-SIGNATURE : x",
		"D\u212aIM-Signature: v=1", "DKIM-\u017fignature: v=1", " DKIM-Signature: v=1", "\tfolded", "X: \u00e9t\u00e9",
		"To: b@help.test", "", "\r", "body dkim-signature", "Dkim-Signaturex: y", "DKIM-Signatur: z", "X-DKIM-Signature: w"}
	seps := []string{"\r\n", "\n"}
	for i := range 20000 {
		var b strings.Builder
		if i%50 == 0 {
			b.WriteString(signed)
		}
		for range rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
			if rng.IntN(10) != 0 {
				b.WriteString(seps[rng.IntN(2)])
			}
		}
		raw := []byte(b.String())
		if !unsigned(raw) {
			continue
		}
		if got, notes := dkimByVerifier(c, raw); got != nil || notes != nil {
			t.Fatalf("unsigned(%q) but the verifier found %v %v", raw, got, notes)
		}
	}
	for _, raw := range []string{plain, "From: a@b\r\n\r\n", "\r\n", "\n", "X: y\n\nbody"} {
		if !unsigned([]byte(raw)) {
			t.Errorf("unsigned(%q) = false, want true", raw)
		}
	}
	for _, raw := range []string{signed, "", "From: a@b\r\n", "From: a@b\r\n\r", "D\u212aIM-Signature: v=1\r\n\r\n", "DKIM-SIGNATURE: x\r\n\r\n"} {
		if unsigned([]byte(raw)) {
			t.Errorf("unsigned(%q) = true, want false", raw)
		}
	}
	var notes []string
	if got := c.dkim(context.Background(), []byte(signed), &notes); !reflect.DeepEqual(got, []DKIM{{Domain: "corp.test", Result: "pass"}}) {
		t.Errorf("signed: %v %v", got, notes)
	}
}

// TestDKIMOfUnsignedEmailAllocatesNothing: the check of an email without
// a signature (most inbound mail to a help desk) reads no header through
// the verifier (it took 4 KiB and a string per header line).
func TestDKIMOfUnsignedEmailAllocatesNothing(t *testing.T) {
	c := &Checker{Resolver: FakeDNS{}}
	raw := []byte(plain + strings.Repeat("Hello, I have a question about my order.\r\n", 40))
	var notes []string
	if n := testing.AllocsPerRun(100, func() { c.dkim(context.Background(), raw, &notes) }); n != 0 {
		t.Errorf("%v allocations per unsigned email, want 0", n)
	}
	if notes != nil {
		t.Errorf("notes %v", notes)
	}
}

// resultStringFmt is Result.String as it was, with fmt.
func resultStringFmt(r Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "spf=%s", r.SPF)
	if r.SPFDomain != "" {
		fmt.Fprintf(&b, " smtp.mailfrom=%s", r.SPFDomain)
	}
	if len(r.DKIM) == 0 {
		b.WriteString("; dkim=none")
	}
	for _, d := range r.DKIM {
		fmt.Fprintf(&b, "; dkim=%s header.d=%s", d.Result, d.Domain)
	}
	fmt.Fprintf(&b, "; dmarc=%s", r.DMARC)
	if r.FromDomain != "" {
		fmt.Fprintf(&b, " header.from=%s", r.FromDomain)
	}
	if r.Relay {
		b.WriteString("; trusted relay")
	}
	if r.Forwarder != "" {
		fmt.Fprintf(&b, "; via forwarder %s", r.Forwarder)
	}
	return b.String()
}

// TestResultStringSameAsFmt: String writes what its fmt form wrote, in
// one allocation.
func TestResultStringSameAsFmt(t *testing.T) {
	rng := mrand.New(mrand.NewPCG(27, 9))
	strs := []string{"", "pass", "none", "corp.test", "a%sb", "\u00e9\x00x", "temperror"}
	pick := func() string { return strs[rng.IntN(len(strs))] }
	for range 5000 {
		r := Result{SPF: pick(), SPFDomain: pick(), DMARC: pick(), FromDomain: pick(), Relay: rng.IntN(2) == 0, Forwarder: pick()}
		for range rng.IntN(3) {
			r.DKIM = append(r.DKIM, DKIM{Domain: pick(), Result: pick()})
		}
		if got, want := r.String(), resultStringFmt(r); got != want {
			t.Fatalf("String() = %q, want %q", got, want)
		}
	}
	r := Result{SPF: "none", DMARC: "none", FromDomain: "c1-x.bench", SPFDomain: "c1-x.bench"}
	if n := testing.AllocsPerRun(100, func() { _ = r.String() }); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
