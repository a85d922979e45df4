package auth

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/authres"
	"github.com/emersion/go-msgauth/dmarc"
	"golang.org/x/net/publicsuffix"
)

// dmarcLookup is the answer of lookupDMARC, made while SPF and DKIM run.
type dmarcLookup struct {
	rec *dmarc.Record
	org bool // rec is the organizational domain's, not the From domain's
	err error
}

// dmarc applies the From domain's policy and decides alignment. Without
// a record the result is "none", but alignment is still computed (relaxed)
// so a domain that publishes no DMARC can still authenticate its agents by
// an aligned SPF or DKIM pass.
func (c *Checker) dmarc(res *Result, l dmarcLookup) {
	if res.FromDomain == "" {
		res.DMARC = "permerror"
		res.Notes = append(res.Notes, "no single From address: nothing to align with")
		return
	}
	rec, err := l.rec, l.err
	spfMode, dkimMode := dmarc.AlignmentMode(dmarc.AlignmentRelaxed), dmarc.AlignmentMode(dmarc.AlignmentRelaxed)
	switch {
	case err == nil:
		res.Policy = string(policyFor(rec, l.org))
		if rec.Percent != nil && *rec.Percent < 100 {
			// RFC 7489 section 6.6.4 samples pct% of failures for the
			// policy; deskmail applies it to every failure (stricter).
			res.Notes = append(res.Notes, fmt.Sprintf("DMARC pct=%d: the policy is applied to every failure", *rec.Percent))
		}
		if rec.SPFAlignment != "" {
			spfMode = rec.SPFAlignment
		}
		if rec.DKIMAlignment != "" {
			dkimMode = rec.DKIMAlignment
		}
	case errors.Is(err, dmarc.ErrNoPolicy):
	case dmarc.IsTempFail(err):
		res.DMARC = "temperror"
		res.Notes = append(res.Notes, "DMARC lookup: "+err.Error())
	default:
		res.DMARC = "permerror"
		res.Notes = append(res.Notes, "DMARC record: "+err.Error())
	}
	if res.SPF == "pass" && aligned(res.SPFDomain, res.FromDomain, spfMode) {
		res.Aligned = true
	}
	for _, d := range res.DKIM {
		if d.Result == "pass" && aligned(d.Domain, res.FromDomain, dkimMode) {
			res.Aligned = true
		}
	}
	if err == nil {
		res.DMARC = "fail"
		if res.Aligned {
			res.DMARC = "pass"
		}
	}
}

// policyFor is the policy a record sets for the From domain: p=, but
// sp= when the record was found at the organizational domain and the From
// domain is below it (RFC 7489 section 6.6.3, step 3; sp= defaults to p=).
func policyFor(rec *dmarc.Record, org bool) dmarc.Policy {
	if org && rec.SubdomainPolicy != "" {
		return rec.SubdomainPolicy
	}
	return rec.Policy
}

// lookupDMARC asks _dmarc.DOMAIN, then _dmarc.ORGDOMAIN (RFC 7489 section
// 6.6.3); org tells the record came from the latter.
func (c *Checker) lookupDMARC(ctx context.Context, domain string) (l dmarcLookup) {
	opts := &dmarc.LookupOptions{LookupTXT: func(name string) ([]string, error) {
		return c.Resolver.LookupTXT(ctx, name)
	}}
	l.rec, l.err = dmarc.LookupWithOptions(domain, opts)
	if errors.Is(l.err, dmarc.ErrNoPolicy) {
		if org := orgDomain(domain); org != domain {
			l.rec, l.err = dmarc.LookupWithOptions(org, opts)
			l.org = true
		}
	}
	return l
}

// orgDomain is the registered domain under the public suffix list (RFC
// 7489 section 3.2).
func orgDomain(d string) string {
	org, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return d
	}
	return org
}

// aligned compares an authenticated domain with the From domain: equal
// in strict mode, the same organizational domain in relaxed mode.
func aligned(authDomain, from string, mode dmarc.AlignmentMode) bool {
	authDomain, from = strings.ToLower(authDomain), strings.ToLower(from)
	if authDomain == "" || from == "" {
		return false
	}
	if mode == dmarc.AlignmentStrict {
		return authDomain == from
	}
	return orgDomain(authDomain) == orgDomain(from)
}

// trustForwarder reads the topmost Authentication-Results (or, failing
// that, the ARC-Authentication-Results of the highest instance) when it
// carries a configured authserv-id. Only the topmost counts: the
// forwarder prepends its header, so anything below it may have been
// written by the sender (RFC 8601 section 5 says to ignore results from
// unknown authserv-ids; a sender can forge a known one further down).
// The ARC chain's signatures are not verified here: the IP allow-list is
// what makes the forwarder's word trustworthy.
func (c *Checker) trustForwarder(h map[string][]string, res *Result) {
	values := h["Authentication-Results"]
	if len(values) == 0 {
		values = topARC(h["Arc-Authentication-Results"])
	}
	if len(values) == 0 {
		return
	}
	id, results, err := authres.Parse(values[0])
	if err != nil {
		res.Notes = append(res.Notes, "forwarder Authentication-Results do not parse: "+err.Error())
		return
	}
	id = strings.ToLower(id)
	if !contains(c.ForwarderIDs, id) {
		res.Notes = append(res.Notes, "topmost Authentication-Results from "+id+", not a trusted forwarder")
		return
	}
	for _, r := range results {
		switch r := r.(type) {
		case *authres.DMARCResult:
			if r.Value == authres.ResultPass && strings.EqualFold(strings.TrimSuffix(r.From, "."), res.FromDomain) {
				res.Aligned, res.Forwarder = true, id
			}
		case *authres.DKIMResult:
			if r.Value == authres.ResultPass && aligned(r.Domain, res.FromDomain, dmarc.AlignmentRelaxed) {
				res.Aligned, res.Forwarder = true, id
			}
		}
	}
	if res.Forwarder == "" {
		res.Notes = append(res.Notes, "forwarder "+id+" reports no aligned pass")
	}
}

// topARC returns the ARC-Authentication-Results value of the highest
// instance (RFC 8617 section 4.1.1), without its "i=N;" prefix.
func topARC(values []string) []string {
	best, bestI := "", -1
	for n, v := range values {
		if n >= MaxAuthResults {
			break
		}
		tag, rest, ok := strings.Cut(v, ";")
		k, num, ok2 := strings.Cut(strings.TrimSpace(tag), "=")
		if !ok || !ok2 || strings.TrimSpace(k) != "i" {
			continue
		}
		i := 0
		for _, ch := range strings.TrimSpace(num) {
			if ch < '0' || ch > '9' || i > 50 {
				i = -1
				break
			}
			i = i*10 + int(ch-'0')
		}
		if i > bestI {
			best, bestI = strings.TrimSpace(rest), i
		}
	}
	if bestI < 0 {
		return nil
	}
	return []string{best}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
