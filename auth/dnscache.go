package auth

import (
	"fmt"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/deskmail/deskmail/clock"
)

// Cache bounds. A TTL above MaxTTL is cut to it, so a record changed by
// its owner is seen within the hour whatever TTL it was published with;
// negative answers (RFC 2308) are kept at most MaxNegativeTTL, and
// NegativeTTL when the answer carries no SOA to say how long.
const (
	MaxTTL          = time.Hour
	MaxNegativeTTL  = 5 * time.Minute
	NegativeTTL     = time.Minute
	DefaultDNSCache = 10000 // entries (one per name and type)
)

var metricDNS = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "deskmail_dns_lookups_total",
	Help: "DNS lookups of the sender checks and MX delivery, by whether the cache answered (hit) or a server was asked (miss).",
}, []string{"cache"})

// DNSCache keeps DNS answers, positive and negative, for their TTL (capped),
// least recently used first out when full. Temporary failures are never
// kept: the next email asks again.
type DNSCache struct {
	clk clock.Clock
	lru *lru.Cache[cacheKey, cacheEntry]
}

type cacheKey struct {
	name  string // lower case, fully qualified
	qtype uint16
}

func (k cacheKey) String() string { return fmt.Sprintf("%s/%d", k.name, k.qtype) }

type cacheEntry struct {
	rrs      []dns.RR
	negative bool // NXDOMAIN, or no record of the type
	expires  time.Time
}

// answer is the entry as a lookup's result; the records are shared, so
// callers only read them.
func (e cacheEntry) answer(name string) ([]dns.RR, error) {
	if e.negative {
		return nil, notFound(name)
	}
	return e.rrs, nil
}

// NewDNSCache returns a cache of at most size entries (DefaultDNSCache
// when size <= 0).
func NewDNSCache(size int, clk clock.Clock) *DNSCache {
	if size <= 0 {
		size = DefaultDNSCache
	}
	if clk == nil {
		clk = clock.Real{}
	}
	c, _ := lru.New[cacheKey, cacheEntry](size) // only fails for size <= 0
	return &DNSCache{clk: clk, lru: c}
}

// Len is the number of entries held.
func (c *DNSCache) Len() int { return c.lru.Len() }

func (c *DNSCache) now() time.Time { return c.clk.Now() }

func (c *DNSCache) get(k cacheKey) (cacheEntry, bool) {
	e, ok := c.lru.Get(k)
	if !ok {
		return cacheEntry{}, false
	}
	if !c.now().Before(e.expires) {
		c.lru.Remove(k)
		return cacheEntry{}, false
	}
	return e, true
}

func (c *DNSCache) put(k cacheKey, e cacheEntry) {
	if !e.expires.After(c.now()) {
		return // TTL 0: use once, keep nothing
	}
	c.lru.Add(k, e)
}

// entryFrom turns a server's answer (NOERROR or NXDOMAIN) into a cache
// entry: the records of the asked type (and the CNAMEs leading to them)
// for the smallest TTL among them, or a negative entry for the SOA's
// negative TTL (RFC 2308 section 5: the smaller of the SOA's TTL and its
// MINIMUM field).
func entryFrom(resp *dns.Msg, qtype uint16, now time.Time) cacheEntry {
	var rrs []dns.RR
	ttl := MaxTTL
	for _, rr := range resp.Answer {
		h := rr.Header()
		if h.Rrtype != qtype && h.Rrtype != dns.TypeCNAME {
			continue
		}
		rrs = append(rrs, rr)
		if t := time.Duration(h.Ttl) * time.Second; t < ttl {
			ttl = t
		}
	}
	hasType := false
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype {
			hasType = true
		}
	}
	if resp.Rcode == dns.RcodeSuccess && hasType {
		return cacheEntry{rrs: rrs, expires: now.Add(ttl)}
	}
	neg := NegativeTTL
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			neg = time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return cacheEntry{negative: true, expires: now.Add(min(neg, MaxNegativeTTL))}
}
