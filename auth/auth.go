// Package auth verifies who really sent an inbound email: SPF (RFC 7208)
// for the connecting IP and reverse path, DKIM (RFC 6376) signatures, and
// DMARC alignment (RFC 7489) of either with the From domain. Its main type
// is Checker; its answer, Result, is what the sender checks of threading
// decide on and what the journal shows as Authentication-Results
// (RFC 8601).
//
// Two shortcuts are configured, never assumed: a trusted relay (your own
// MTA in front of deskmail, which did the checks) counts as authenticated;
// a forwarder (Gmail or Microsoft 365 forwarding a support mailbox) breaks
// SPF and often DKIM, so its own Authentication-Results are read, but only
// when the mail arrived from one of its configured IPs and the header
// carries one of its configured authserv-ids.
//
// All DNS goes through the Resolver interface, so tests need no network.
package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/deskmail/deskmail/internal/keptgo"
	"github.com/deskmail/deskmail/mailmsg"
)

// Resolver is the DNS the checks need; *net.Resolver is one.
type Resolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupAddr(ctx context.Context, addr string) ([]string, error)
}

// Limits on what one message may cost.
const (
	// MaxDKIMSignatures verified per message; more are ignored (a message
	// with dozens of signatures is an attack on the verifier).
	MaxDKIMSignatures = 5
	// MaxAuthResults is how many Authentication-Results headers are read.
	MaxAuthResults = 10
	// DefaultBudget bounds the DNS work of one message when
	// Checker.Budget is zero; what is not answered by then is a
	// temperror.
	DefaultBudget = 10 * time.Second
)

// Checker verifies inbound mail.
type Checker struct {
	Resolver Resolver
	// TrustedRelays: mail from these addresses counts as authenticated.
	TrustedRelays []netip.Prefix
	// ForwarderIPs and ForwarderIDs: Authentication-Results headers whose
	// authserv-id is in ForwarderIDs are read only from mail that arrived
	// from ForwarderIPs.
	ForwarderIPs []netip.Prefix
	ForwarderIDs []string
	// Budget bounds all the DNS lookups of one message (default
	// DefaultBudget): a lookup still unanswered then is a temperror, and
	// the email goes on under the usual rules for one.
	Budget time.Duration
}

// Input is one message as received.
type Input struct {
	RemoteIP string // connecting IP ("" for local injection)
	Helo     string
	MailFrom string // reverse path, "" for the null path
	Raw      []byte // the whole message (DKIM verifies its bytes)
	// Message is the one parse of Raw that every step reads (mailmsg):
	// DMARC aligns with its author, so the domain checked is the domain
	// of the address the email is attributed to. nil: Check parses Raw's
	// header itself, the same way.
	Message *mailmsg.Message
}

// Result is what the checks found.
type Result struct {
	From       string `json:"from,omitempty"` // the one From address the checks are about
	FromDomain string `json:"from_domain,omitempty"`
	SPF        string `json:"spf"` // pass, fail, softfail, neutral, none, temperror, permerror
	SPFDomain  string `json:"spf_domain,omitempty"`
	DKIM       []DKIM `json:"dkim,omitempty"`
	DMARC      string `json:"dmarc"` // pass, fail, none (no record), temperror
	Policy     string `json:"dmarc_policy,omitempty"`
	// Aligned: an SPF or DKIM pass aligns with the From domain (RFC 7489
	// section 3.1), whether or not the domain publishes DMARC.
	Aligned bool `json:"aligned"`
	// Relay: the mail came from a configured trusted relay.
	Relay bool `json:"relay,omitempty"`
	// Forwarder: the authserv-id whose results were trusted, if any.
	Forwarder string   `json:"forwarder,omitempty"`
	Notes     []string `json:"notes,omitempty"`
}

// DKIM is one signature's outcome.
type DKIM struct {
	Domain string `json:"domain"`
	Result string `json:"result"` // pass, fail, temperror, permerror
}

// Authenticated tells whether the From address may be believed: aligned
// SPF or DKIM, a trusted relay, or a trusted forwarder that said so.
func (r Result) Authenticated() bool { return r.Aligned || r.Relay }

// String is the result in Authentication-Results form (RFC 8601), without
// the authserv-id: "spf=pass smtp.mailfrom=a.example; dkim=pass
// header.d=a.example; dmarc=pass header.from=a.example".
func (r Result) String() string {
	// Written piece by piece into one allocation (fmt.Fprintf took nine;
	// the journal writes this for every email).
	n := 64 + len(r.SPF) + len(r.SPFDomain) + len(r.DMARC) + len(r.FromDomain) + len(r.Forwarder)
	for _, d := range r.DKIM {
		n += 24 + len(d.Result) + len(d.Domain)
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteString("spf=")
	b.WriteString(r.SPF)
	if r.SPFDomain != "" {
		b.WriteString(" smtp.mailfrom=")
		b.WriteString(r.SPFDomain)
	}
	if len(r.DKIM) == 0 {
		b.WriteString("; dkim=none")
	}
	for _, d := range r.DKIM {
		b.WriteString("; dkim=")
		b.WriteString(d.Result)
		b.WriteString(" header.d=")
		b.WriteString(d.Domain)
	}
	b.WriteString("; dmarc=")
	b.WriteString(r.DMARC)
	if r.FromDomain != "" {
		b.WriteString(" header.from=")
		b.WriteString(r.FromDomain)
	}
	if r.Relay {
		b.WriteString("; trusted relay")
	}
	if r.Forwarder != "" {
		b.WriteString("; via forwarder ")
		b.WriteString(r.Forwarder)
	}
	return b.String()
}

// Check runs SPF, DKIM and DMARC on one message. It never fails: what
// could not be checked is a temperror or permerror in the Result.
func (c *Checker) Check(ctx context.Context, in Input) Result {
	budget := c.Budget
	if budget <= 0 {
		budget = DefaultBudget
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	res := Result{SPF: "none", DMARC: "none"}
	msg := in.Message
	if msg == nil {
		msg = mailmsg.ParseHeader(in.Raw, mailmsg.Limits{})
	}
	if msg.Author != nil {
		res.From = msg.Author.Addr
	}
	res.FromDomain = FromDomain(msg)
	// The three checks ask DNS independently, so they wait for it at the
	// same time: an email costs its slowest lookup chain, not their sum.
	// Only the alignment below needs all three answers.
	var wg sync.WaitGroup
	var rec dmarcLookup
	if res.FromDomain != "" {
		wg.Add(1)
		keptgo.Go(func() { // kept goroutines: their stacks have the checks' depth already
			defer wg.Done()
			rec = c.lookupDMARC(ctx, res.FromDomain)
		})
	}
	ip, ipErr := netip.ParseAddr(in.RemoteIP)
	if ipErr == nil {
		ip = ip.Unmap()
		res.Relay = inAny(ip, c.TrustedRelays)
		wg.Add(1)
		keptgo.Go(func() {
			defer wg.Done()
			res.SPF, res.SPFDomain = c.spf(ctx, ip, in)
		})
	}
	var dkimNotes []string
	dkims := c.dkim(ctx, in.Raw, &dkimNotes)
	wg.Wait()
	res.DKIM, res.Notes = dkims, append(res.Notes, dkimNotes...)
	c.dmarc(&res, rec)
	if !res.Aligned && ipErr == nil && inAny(ip, c.ForwarderIPs) {
		c.trustForwarder(map[string][]string{
			"Authentication-Results":     msg.Header.Values("authentication-results"),
			"Arc-Authentication-Results": msg.Header.Values("arc-authentication-results"),
		}, &res)
	}
	return res
}

func inAny(ip netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// FromDomain is the RFC5322.From domain DMARC is about (RFC 7489 section
// 6.6.1): the domain of the one author, or nothing (mailmsg decides, for
// every step alike: one From field in any spelling, one mailbox).
func FromDomain(msg *mailmsg.Message) string {
	if msg.Author == nil {
		return ""
	}
	return domainOf(msg.Author.Addr)
}

func domainOf(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return ""
	}
	return strings.TrimSuffix(strings.ToLower(addr[at+1:]), ".")
}

// unsigned tells, without go-msgauth's reader (a 4 KiB buffer, a string
// per header line and a copy of the body through an empty MultiWriter),
// that dkim.VerifyWithOptions would find no signature in raw and no
// error: its header ends (a line that textproto reads as empty, "\n" or
// "\r\n"), is ASCII, and holds "dkim-signature" in no case anywhere, so
// no field's name can equal DKIM-Signature under strings.EqualFold (which
// also folds the non-ASCII K and ſ to k and s: an email with any
// byte past ASCII in its header goes to the verifier). Anything else,
// including a header with no end (the verifier's "failed to read header"
// note), goes to the verifier.
func unsigned(raw []byte) bool {
	end := -1
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return false // the header does not end: the verifier's error
		}
		if j == 0 || (j == 1 && raw[i] == '\r') {
			end = i
			break
		}
		i += j + 1
	}
	if end < 0 {
		return false
	}
	h := raw[:end]
	for i, c := range h {
		if c >= 0x80 {
			return false
		}
		if c|0x20 == 'd' && i+len(dkimSignature) <= len(h) && bytes.EqualFold(h[i:i+len(dkimSignature)], dkimSignature) {
			return false
		}
	}
	return true
}

// dkimSignature is the field name unsigned looks for, in any case.
var dkimSignature = []byte("dkim-signature")

// spf checks the reverse path, or the HELO name for the null path (RFC
// 7208 section 2.4).
func (c *Checker) spf(ctx context.Context, ip netip.Addr, in Input) (result, domain string) {
	domain = domainOf(in.MailFrom)
	if domain == "" {
		domain = strings.ToLower(in.Helo)
	}
	if domain == "" {
		return "none", ""
	}
	r, _ := spf.CheckHostWithSender(net.IP(ip.AsSlice()), in.Helo, in.MailFrom,
		spf.WithResolver(c.Resolver), spf.WithContext(ctx))
	return string(r), domain
}

func (c *Checker) dkim(ctx context.Context, raw []byte, notes *[]string) []DKIM {
	if unsigned(raw) {
		// What the verifier answers for it: no signature, no note.
		return nil
	}
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(raw), &dkim.VerifyOptions{
		MaxVerifications: MaxDKIMSignatures,
		LookupTXT:        func(name string) ([]string, error) { return c.Resolver.LookupTXT(ctx, name) },
	})
	if errors.Is(err, dkim.ErrTooManySignatures) {
		*notes = append(*notes, fmt.Sprintf("more than %d DKIM signatures: the rest ignored", MaxDKIMSignatures))
	} else if err != nil {
		*notes = append(*notes, "DKIM: "+err.Error())
	}
	var out []DKIM
	for _, v := range vs {
		d := DKIM{Domain: strings.ToLower(v.Domain), Result: "pass"}
		switch {
		case v.Err == nil:
		case dkim.IsTempFail(v.Err):
			d.Result = "temperror"
		case dkim.IsPermFail(v.Err):
			d.Result = "permerror"
		default:
			d.Result = "fail"
		}
		if v.Err != nil {
			*notes = append(*notes, fmt.Sprintf("DKIM d=%s: %v", d.Domain, v.Err))
		}
		out = append(out, d)
	}
	return out
}
