package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sync/singleflight"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/keptgo"
)

// DNS is the daemon's one resolver: SPF, DKIM, DMARC and the outbound MX
// lookups all go through it, so they share one cache (see dnscache.go).
// It speaks DNS itself (github.com/miekg/dns) rather than going through
// net.Resolver because the cache needs the answers' TTLs, which the
// standard library does not expose.
//
// Errors are *net.DNSError, unwrapped, because the SPF, DKIM and DMARC
// libraries type-assert them: IsNotFound for NXDOMAIN and for a name
// without records of the type (both cached as negative answers),
// IsTemporary or IsTimeout for everything that may go better later (never
// cached).
type DNS struct {
	// Servers are the resolvers asked, in order, as host:port; empty:
	// the nameservers of /etc/resolv.conf (the system's), read by
	// NewDNS.
	Servers []string
	// Timeout bounds one query to one server (default 5s); the caller's
	// context bounds the whole lookup (the per-email DNS budget).
	Timeout time.Duration
	Cache   *DNSCache
	group   singleflight.Group
	// afterMiss, when set (tests only), runs after a lookup missed the
	// cache and before it joins or starts the shared query.
	afterMiss func()

	poolsMu sync.Mutex
	pools   map[string]*udpPool // UDP sockets by server (dnspool.go)
	closed  bool
}

// ednsSize is the UDP payload size the queries announce: the DNS flag
// day's, which avoids fragmentation.
const ednsSize = 1232

// NewDNS returns a resolver asking server ("host:port"; "" for the
// system's), caching up to cacheSize answers.
func NewDNS(server string, cacheSize int, clk clock.Clock) (*DNS, error) {
	d := &DNS{Cache: NewDNSCache(cacheSize, clk)}
	if server != "" {
		if _, _, err := net.SplitHostPort(server); err != nil {
			return nil, fmt.Errorf("dns server %q: want host:port: %w", server, err)
		}
		d.Servers = []string{server}
		return d, nil
	}
	conf, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil || len(conf.Servers) == 0 {
		// What Go's own resolver assumes without a resolv.conf.
		d.Servers = []string{"127.0.0.1:53", "[::1]:53"}
		return d, nil
	}
	for _, s := range conf.Servers {
		d.Servers = append(d.Servers, net.JoinHostPort(s, conf.Port))
	}
	return d, nil
}

// LookupTXT returns the TXT strings of name, each record's strings joined
// (RFC 7208 section 3.3).
func (d *DNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	rrs, err := d.lookup(ctx, name, dns.TypeTXT)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if t, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(t.Txt, ""))
		}
	}
	return out, nil
}

// LookupMX returns the MX records of name, best preference first.
func (d *DNS) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	rrs, err := d.lookup(ctx, name, dns.TypeMX)
	if err != nil {
		return nil, err
	}
	var out []*net.MX
	for _, rr := range rrs {
		if m, ok := rr.(*dns.MX); ok {
			out = append(out, &net.MX{Host: m.Mx, Pref: m.Preference})
		}
	}
	sortMX(out)
	return out, nil
}

func sortMX(mx []*net.MX) {
	for i := 1; i < len(mx); i++ {
		for j := i; j > 0 && mx[j].Pref < mx[j-1].Pref; j-- {
			mx[j], mx[j-1] = mx[j-1], mx[j]
		}
	}
}

// LookupIPAddr returns the A and AAAA addresses of host; it fails only
// when both lookups fail.
func (d *DNS) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	var firstErr error
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		rrs, err := d.lookup(ctx, host, t)
		if err != nil {
			if firstErr == nil || isNotFound(firstErr) {
				firstErr = err
			}
			continue
		}
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				out = append(out, net.IPAddr{IP: a.A})
			case *dns.AAAA:
				out = append(out, net.IPAddr{IP: a.AAAA})
			}
		}
	}
	if len(out) == 0 && firstErr != nil {
		return nil, firstErr
	}
	if len(out) == 0 {
		return nil, notFound(host)
	}
	return out, nil
}

// LookupAddr returns the PTR names of an IP address.
func (d *DNS) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	rev, err := dns.ReverseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: err.Error(), Name: addr}
	}
	rrs, err := d.lookup(ctx, rev, dns.TypePTR)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, rr := range rrs {
		if p, ok := rr.(*dns.PTR); ok {
			out = append(out, p.Ptr)
		}
	}
	return out, nil
}

func isNotFound(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

func notFound(name string) *net.DNSError {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// lookup answers from the cache, or asks (once for all the callers that
// want the same name at the same time) and caches what came back.
func (d *DNS) lookup(ctx context.Context, name string, qtype uint16) ([]dns.RR, error) {
	fqdn := dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(fqdn); !ok || len(fqdn) > 254 {
		return nil, &net.DNSError{Err: "invalid domain name", Name: name, IsNotFound: true}
	}
	key := cacheKey{name: fqdn, qtype: qtype}
	if e, ok := d.Cache.get(key); ok {
		metricDNS.WithLabelValues("hit").Inc()
		return e.answer(name)
	}
	metricDNS.WithLabelValues("miss").Inc()
	if d.afterMiss != nil {
		d.afterMiss()
	}
	// The shared query runs on its own context so one caller giving up
	// (its email's budget spent) does not fail the others; each caller
	// still stops waiting when its own context ends.
	// singleflight's Do on a kept goroutine, not DoChan: DoChan started a
	// goroutine for each query, which grew its stack by copying while it
	// unpacked the answer (keptgo).
	ch := make(chan singleflight.Result, 1)
	keptgo.Go(func() {
		v, err, shared := d.group.Do(key.String(), func() (any, error) {
			// A lookup that missed the cache while another's query for
			// the name was ending comes here after that query was
			// cached and left the group: the cache answers it, not a
			// second query.
			if e, ok := d.Cache.get(key); ok {
				return e, nil
			}
			qctx, cancel := context.WithTimeout(context.Background(), d.timeout()*time.Duration(max(1, len(d.Servers))))
			defer cancel()
			e, err := d.exchange(qctx, fqdn, qtype)
			if err != nil {
				return nil, err
			}
			d.Cache.put(key, e)
			return e, nil
		})
		ch <- singleflight.Result{Val: v, Err: err, Shared: shared}
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(cacheEntry).answer(name)
	case <-ctx.Done():
		return nil, &net.DNSError{Err: "DNS budget spent: " + ctx.Err().Error(), Name: name, IsTimeout: true, IsTemporary: true}
	}
}

func (d *DNS) timeout() time.Duration {
	if d.Timeout > 0 {
		return d.Timeout
	}
	return 5 * time.Second
}

// exchange asks each server in turn until one answers.
func (d *DNS) exchange(ctx context.Context, fqdn string, qtype uint16) (cacheEntry, error) {
	q := new(dns.Msg)
	q.SetQuestion(fqdn, qtype)
	q.SetEdns0(ednsSize, false)
	var last error = &net.DNSError{Err: "no DNS server configured", Name: fqdn, IsTemporary: true}
	for _, srv := range d.Servers {
		resp, err := d.pool(srv).exchangeUDP(ctx, q, time.Now().Add(d.timeout()))
		if err == nil && resp.Truncated {
			tcp := &dns.Client{Net: "tcp", Timeout: d.timeout()}
			resp, _, err = tcp.ExchangeContext(ctx, q, srv)
		}
		if err != nil {
			last = &net.DNSError{Err: err.Error(), Name: fqdn, Server: srv, IsTimeout: isTimeout(err), IsTemporary: true}
			continue
		}
		if resp.Id != q.Id {
			last = &net.DNSError{Err: "answer for another query", Name: fqdn, Server: srv, IsTemporary: true}
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess, dns.RcodeNameError:
			return entryFrom(resp, qtype, d.Cache.now()), nil
		default:
			last = &net.DNSError{Err: "server answered " + dns.RcodeToString[resp.Rcode], Name: fqdn, Server: srv, IsTemporary: true}
		}
	}
	return cacheEntry{}, last
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() || errors.Is(err, context.DeadlineExceeded)
}
