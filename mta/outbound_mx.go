package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/deskmail/deskmail/queue"
)

// Resolver looks up MX records and the addresses of the hosts they
// name; *net.Resolver and *auth.DNS are ones.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
}

// MX delivers straight to each recipient domain's mail servers, tried in
// order of preference, with STARTTLS whenever they offer it. It resolves
// the servers' addresses itself and connects only to public ones (see
// Refused), unless AllowPrivate: a recipient probe@127.0.0.1, or a
// domain whose MX resolves to an internal host, must not make the daemon
// a door into the network it runs in.
type MX struct {
	Hostname string   // our name in EHLO; many receivers check it resolves to us
	Resolver Resolver // nil: net.DefaultResolver
	Port     string   // "25" unless a test says otherwise
	Timeout  time.Duration
	// AllowPrivate lets it connect to loopback, private, link-local and
	// our own addresses (setting outbound-allow-private).
	AllowPrivate bool
	// Own lists the daemon's own addresses; nil: the addresses of the
	// machine's interfaces, read once.
	Own  []netip.Addr
	Dial DialFunc // nil: a net.Dialer

	ownOnce sync.Once
	own     []netip.Addr
}

// Deliver implements queue.Transport.
func (m *MX) Deliver(ctx context.Context, from, to string, msg []byte) (queue.Result, error) {
	at := strings.LastIndexByte(to, '@')
	if at < 0 || at == len(to)-1 {
		return queue.Result{}, queue.Permanent(fmt.Errorf("recipient %q has no domain", to))
	}
	domain := to[at+1:]
	targets, err := m.targets(ctx, domain)
	if err != nil {
		return queue.Result{}, err
	}
	port, timeout := m.Port, m.Timeout
	if port == "" {
		port = "25"
	}
	if timeout <= 0 {
		timeout = 5 * time.Minute // RFC 5321 §4.5.3.2's command timeouts
	}
	var last error
	for _, tg := range targets {
		// Opportunistic TLS (RFC 7435; Postfix's "may" level): encrypt
		// when offered, without insisting on a certificate the sender
		// cannot know to expect. MTA-STS/DANE would make it mandatory.
		cfg := &tls.Config{ServerName: tg.host, InsecureSkipVerify: true}
		c, _, err := dialSMTP(ctx, m.Dial, net.JoinHostPort(tg.addr.String(), port), m.Hostname, cfg, false, timeout)
		if err != nil {
			last = fmt.Errorf("%s: %w", tg.host, err)
			continue
		}
		reply, err := sendOne(c, from, to, msg)
		if err == nil {
			c.Quit()
			return queue.Result{Reply: tg.host + ": " + reply}, nil
		}
		c.Close()
		if queue.IsPermanent(err) {
			return queue.Result{}, fmt.Errorf("%s: %w", tg.host, err)
		}
		last = fmt.Errorf("%s: %w", tg.host, err) // 4xx: the next MX may take it
	}
	return queue.Result{}, last
}

// hosts returns the hosts to try for domain, best first.
func (m *MX) hosts(ctx context.Context, domain string) ([]string, error) {
	mxs, err := m.resolver().LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		// No MX record: the domain itself is the implicit MX (RFC 5321 §5.1).
		return []string{domain}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("MX lookup of %s: %w", domain, err)
	}
	if len(mxs) == 1 && (mxs[0].Host == "." || mxs[0].Host == "") {
		return nil, queue.Permanent(fmt.Errorf("%s accepts no email (null MX, RFC 7505)", domain))
	}
	if len(mxs) == 0 {
		return []string{domain}, nil
	}
	hosts := make([]string, 0, len(mxs))
	for _, mx := range mxs { // LookupMX sorts by preference
		hosts = append(hosts, strings.TrimSuffix(mx.Host, "."))
	}
	return hosts, nil
}
