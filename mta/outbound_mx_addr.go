package mta

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/deskmail/deskmail/queue"
)

// MaxMXAddresses bounds the addresses tried for one recipient domain.
const MaxMXAddresses = 10

// target is one address to connect to and the host name it came from
// (the name TLS asks for and the reply names).
type target struct {
	host string
	addr netip.Addr
}

// nonPublic are the ranges of the IANA IPv4 and IPv6 Special-Purpose
// Address Registries (RFC 6890 and later) that are not globally
// reachable and that net/netip has no predicate for: "this network"
// (0/8 reaches the local host on Linux), shared address space (RFC 6598),
// IETF protocol assignments, documentation (TEST-NET-1..3, 2001:db8::/32,
// 3fff::/20), the 6to4 relay anycast, benchmarking (RFC 2544), reserved
// and broadcast (240/4); NAT64 prefixes and IPv4-compatible (::/96) and
// IPv4-translated (SIIT, ::ffff:0:0:0/96) IPv6, which embed an IPv4
// address of any kind; discard-only (100::/64) and dummy (100:0:0:1::/64)
// prefixes; Teredo (2001::/32, which embeds a client's IPv4 address),
// the rest of 2001::/23 that is not global (benchmarking, ORCHID);
// SRv6 SIDs (5f00::/16); and deprecated site-local (fec0::/10).
// 6to4 (2002::/16) is judged by the IPv4 address it embeds (embedded).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("192.88.99.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("::/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("100::/64"),
	netip.MustParsePrefix("100:0:0:1::/64"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2001:2::/48"),
	netip.MustParsePrefix("2001:10::/28"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("3fff::/20"),
	netip.MustParsePrefix("5f00::/16"),
	netip.MustParsePrefix("fec0::/10"),
}

var sixToFour = netip.MustParsePrefix("2002::/16")

// embedded is the IPv4 address a 6to4 address (2002:AABB:CCDD::/48)
// carries.
func embedded(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() || !sixToFour.Contains(a) {
		return netip.Addr{}, false
	}
	b := a.As16()
	return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
}

// Refused tells why direct delivery does not connect to a, or "": a
// loopback, private, link-local, unspecified, multicast or otherwise
// non-public address, one of own, or a 6to4 address carrying any of
// these.
func Refused(a netip.Addr, own []netip.Addr) string {
	a = a.Unmap()
	if v4, ok := embedded(a); ok {
		if why := Refused(v4, own); why != "" {
			return why + " (in 6to4)"
		}
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	case slices.Contains(own, a):
		return "the daemon's own"
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return "not public"
		}
	}
	return ""
}

// ipLiteral reads a domain that is an address: "[192.0.2.1]",
// "[IPv6:2001:db8::1]" (RFC 5321 §4.1.3), or a bare address.
func ipLiteral(domain string) (netip.Addr, bool) {
	if inner, ok := strings.CutPrefix(domain, "["); ok {
		inner, ok = strings.CutSuffix(inner, "]")
		if !ok {
			return netip.Addr{}, false
		}
		if v6, ok := cutPrefixFold(inner, "IPv6:"); ok {
			a, err := netip.ParseAddr(v6)
			return a, err == nil && a.Is6()
		}
		a, err := netip.ParseAddr(inner)
		return a, err == nil && a.Is4()
	}
	a, err := netip.ParseAddr(strings.TrimSuffix(domain, "."))
	return a, err == nil
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return "", false
}

// targets resolves domain to the addresses to try, best first, and drops
// the refused ones; a domain left with none is a permanent failure that
// names the addresses and the setting.
func (m *MX) targets(ctx context.Context, domain string) ([]target, error) {
	if a, ok := ipLiteral(domain); ok {
		return m.allowed(domain, []target{{host: a.String(), addr: a}})
	}
	hosts, err := m.hosts(ctx, domain)
	if err != nil {
		return nil, err
	}
	var out []target
	var last error
	for _, h := range hosts {
		if len(out) >= MaxMXAddresses {
			break
		}
		if a, ok := ipLiteral(h); ok { // an MX naming an address (RFC 7505 says it must not; some do)
			out = append(out, target{host: h, addr: a})
			continue
		}
		addrs, err := m.resolver().LookupIPAddr(ctx, h)
		if err != nil {
			last = fmt.Errorf("address lookup of %s: %w", h, err)
			continue
		}
		for _, ia := range addrs {
			if a, ok := netip.AddrFromSlice(ia.IP); ok && len(out) < MaxMXAddresses {
				out = append(out, target{host: h, addr: a.Unmap()})
			}
		}
	}
	if len(out) == 0 {
		if last == nil {
			last = fmt.Errorf("no address for the mail servers of %s", domain)
		}
		return nil, last
	}
	return m.allowed(domain, out)
}

// allowed keeps the targets direct delivery may connect to.
func (m *MX) allowed(domain string, ts []target) ([]target, error) {
	if m.AllowPrivate {
		return ts, nil
	}
	own := m.ownAddrs()
	var kept []target
	var why []string
	for _, t := range ts {
		if r := Refused(t.addr, own); r != "" {
			why = append(why, fmt.Sprintf("%s (%s) is a %s address", t.host, t.addr, r))
			continue
		}
		kept = append(kept, t)
	}
	if len(kept) == 0 {
		return nil, queue.Permanent(fmt.Errorf("%w: %s: %s; outbound-allow-private allows it", ErrNonPublic, domain, strings.Join(why, ", ")))
	}
	return kept, nil
}

// ErrNonPublic is a recipient domain whose mail servers are all at
// addresses direct delivery refuses.
var ErrNonPublic = errors.New("refused to deliver to a non-public address")

func (m *MX) resolver() Resolver {
	if m.Resolver != nil {
		return m.Resolver
	}
	return net.DefaultResolver
}

func (m *MX) ownAddrs() []netip.Addr {
	if m.Own != nil {
		return m.Own
	}
	m.ownOnce.Do(func() {
		addrs, err := net.InterfaceAddrs()
		if err != nil {
			return
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				m.own = append(m.own, p.Addr().Unmap())
			}
		}
	})
	return m.own
}
