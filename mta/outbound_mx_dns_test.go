package mta

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/auth/dnstest"
	"github.com/deskmail/deskmail/queue"
)

// dnsServer is a real DNS server on loopback and the daemon's caching
// resolver asking it.
func dnsServer(t *testing.T) (*dnstest.Server, *auth.DNS) {
	t.Helper()
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	res, err := auth.NewDNS(srv.Addr, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return srv, res
}

// Direct delivery asks the daemon's shared caching resolver: the MX order,
// and the implicit MX of a domain without one (RFC 5321 section 5.1),
// hold through it.
func TestMXThroughTheSharedResolver(t *testing.T) {
	srv, res := dnsServer(t)
	srv.MX("dest.test", "mx2.dest.test", 20)
	srv.MX("dest.test", "mx1.dest.test", 10)
	m := &MX{Resolver: res}
	hosts, err := m.hosts(context.Background(), "dest.test")
	if err != nil || strings.Join(hosts, " ") != "mx1.dest.test mx2.dest.test" {
		t.Errorf("hosts = %v %v", hosts, err)
	}
	hosts, err = m.hosts(context.Background(), "nomx.test")
	if err != nil || strings.Join(hosts, " ") != "nomx.test" {
		t.Errorf("implicit MX: %v %v", hosts, err)
	}
	m.hosts(context.Background(), "dest.test")
	if n := srv.Queries("dest.test"); n != 1 {
		t.Errorf("%d MX queries for dest.test, want 1 (cached)", n)
	}
}

// Issue 21, item 10: `--outbound mx` does not connect to loopback,
// private, link-local or our own addresses, whether the recipient's
// domain is an address (probe@127.0.0.1, probe@[127.0.0.1]) or a name
// whose MX resolves to one, through a real DNS server; a public MX of the
// same domain is still tried, and outbound-allow-private lets them all.
func TestMXRefusesNonPublicAddresses(t *testing.T) {
	srv, res := dnsServer(t)
	srv.MX("internal.test", "mx.internal.test", 10)
	srv.IP("mx.internal.test", "10.0.0.5", "fd00::25")
	srv.MX("meta.test", "metadata.meta.test", 10)
	srv.IP("metadata.meta.test", "169.254.169.254")
	srv.MX("loop.test", "localhost.loop.test", 10)
	srv.IP("localhost.loop.test", "127.0.0.1", "::1")
	srv.MX("self.test", "mx.self.test", 10)
	srv.IP("mx.self.test", "203.0.113.7")
	srv.MX("mixed.test", "in.mixed.test", 10)
	srv.MX("mixed.test", "out.mixed.test", 20)
	srv.IP("in.mixed.test", "192.168.1.10")
	srv.IP("out.mixed.test", "93.184.215.25") // never reached: Dial goes to the sink
	srv.IP("nomx.test", "0.0.0.0")
	sink := newSink(t, true)
	_, port, _ := net.SplitHostPort(sink.addr)
	var mu sync.Mutex
	var dialed []string
	m := &MX{Hostname: "deskmail.test", Resolver: res, Port: port, Own: []netip.Addr{netip.MustParseAddr("203.0.113.7")},
		Timeout: 10 * time.Second,
		// Every connection goes to the sink on loopback; the seam records
		// where the daemon meant to connect.
		Dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			return (&net.Dialer{}).DialContext(ctx, network, sink.addr)
		}}
	took := func() []string {
		mu.Lock()
		defer mu.Unlock()
		d := dialed
		dialed = nil
		return d
	}
	for _, to := range []string{"probe@127.0.0.1", "probe@[127.0.0.1]", "probe@[IPv6:::1]", "probe@[IPv6:::ffff:127.0.0.1]",
		"probe@internal.test", "probe@meta.test", "probe@loop.test", "probe@self.test", "probe@nomx.test", "probe@10.1.2.3"} {
		_, err := m.Deliver(context.Background(), "bounce+1@example.test", to, []byte(testMsg))
		if !errors.Is(err, ErrNonPublic) || !queue.IsPermanent(err) || !strings.Contains(err.Error(), "outbound-allow-private") {
			t.Errorf("%s: %v, want a permanent refusal naming the setting", to, err)
		}
		if d := took(); len(d) != 0 {
			t.Errorf("%s: connected to %v", to, d)
		}
	}
	if n := len(sink.got()); n != 0 {
		t.Fatalf("%d emails reached the internal server", n)
	}
	// A domain with a private and a public MX: only the public one.
	if _, err := m.Deliver(context.Background(), "bounce+1@example.test", "ann@mixed.test", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	if d := took(); strings.Join(d, " ") != "93.184.215.25:"+port {
		t.Errorf("mixed.test: connected to %v, want only the public MX", d)
	}
	// The setting allows them.
	m.AllowPrivate = true
	if _, err := m.Deliver(context.Background(), "bounce+1@example.test", "probe@internal.test", []byte(testMsg)); err != nil {
		t.Fatal(err)
	}
	if d := took(); len(d) != 1 || d[0] != "10.0.0.5:"+port {
		t.Errorf("allowed: connected to %v, want 10.0.0.5", d)
	}
}

// And without the seam: a server listening on 127.0.0.1 is not even
// connected to for probe@127.0.0.1.
func TestMXDoesNotReachLoopbackServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	m := &MX{Hostname: "deskmail.test", Port: port, Timeout: 10 * time.Second}
	if _, err := m.Deliver(context.Background(), "bounce+1@example.test", "probe@127.0.0.1", []byte(testMsg)); !errors.Is(err, ErrNonPublic) {
		t.Errorf("deliver to probe@127.0.0.1: %v, want refused", err)
	}
	// A marker connection after the delivery: the listener's first
	// connection is the marker unless the delivery connected first.
	marker, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer marker.Close()
	first, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	if first.RemoteAddr().String() != marker.LocalAddr().String() {
		t.Errorf("the loopback server was connected to from %s", first.RemoteAddr())
	}
}

func TestRefusedAddresses(t *testing.T) {
	for a, want := range map[string]string{
		"127.0.0.1": "loopback", "::1": "loopback", "10.1.1.1": "private", "172.16.0.1": "private", "192.168.0.1": "private",
		"fc00::1": "private", "169.254.169.254": "link-local", "fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified",
		"224.0.0.1": "multicast", "ff02::1": "multicast", "0.1.2.3": "not public", "100.64.0.1": "not public",
		"255.255.255.255": "not public", "64:ff9b::7f00:1": "not public", "::ffff:10.0.0.1": "private", "203.0.113.7": "the daemon's own",
		"8.8.8.8": "", "2606:4700::1111": "", "2a00:1450::1": "",
		// Issue 21 review: the rest of the IANA special-purpose registries,
		// and 6to4 judged by the IPv4 address it carries.
		"192.0.2.25": "not public", "198.51.100.1": "not public", "192.88.99.1": "not public",
		"2001:db8::25": "not public", "3fff::1": "not public", "fec0::1": "not public", "::ffff:0:a00:1": "not public",
		"100::1": "not public", "2001::5efe:a00:1": "not public", "2001:0:4136:e378:8000:63bf:f5ff:fffe": "not public",
		"2001:2::1": "not public", "5f00::1": "not public",
		"2002:a00:1::1": "private (in 6to4)", "2002:7f00:1::1": "loopback (in 6to4)", "2002:a9fe:a9fe::1": "link-local (in 6to4)",
		"2002:cb00:7107::1": "the daemon's own (in 6to4)", "2002:808:808::1": "",
	} {
		if got := Refused(netip.MustParseAddr(a), []netip.Addr{netip.MustParseAddr("203.0.113.7")}); got != want {
			t.Errorf("Refused(%s) = %q, want %q", a, got, want)
		}
	}
}
