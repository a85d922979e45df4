package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/deskmail/deskmail/queue"
)

// Resolver looks up MX records; *net.Resolver is one, tests pass a fake.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// MX delivers straight to each recipient domain's mail servers, tried in
// order of preference, with STARTTLS whenever they offer it.
type MX struct {
	Hostname string   // our name in EHLO; many receivers check it resolves to us
	Resolver Resolver // nil: net.DefaultResolver
	Port     string   // "25" unless a test says otherwise
	Timeout  time.Duration
}

// Deliver implements queue.Transport.
func (m *MX) Deliver(ctx context.Context, from, to string, msg []byte) (queue.Result, error) {
	_, domain, ok := strings.Cut(to, "@")
	if !ok || domain == "" {
		return queue.Result{}, queue.Permanent(fmt.Errorf("recipient %q has no domain", to))
	}
	hosts, err := m.hosts(ctx, domain)
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
	for _, host := range hosts {
		// Opportunistic TLS (RFC 7435; Postfix's "may" level): encrypt
		// when offered, without insisting on a certificate the sender
		// cannot know to expect. MTA-STS/DANE would make it mandatory.
		cfg := &tls.Config{ServerName: host, InsecureSkipVerify: true}
		c, _, err := dialSMTP(ctx, net.JoinHostPort(host, port), m.Hostname, cfg, false, timeout)
		if err != nil {
			last = fmt.Errorf("%s: %w", host, err)
			continue
		}
		reply, err := sendOne(c, from, to, msg)
		if err == nil {
			c.Quit()
			return queue.Result{Reply: host + ": " + reply}, nil
		}
		c.Close()
		if queue.IsPermanent(err) {
			return queue.Result{}, fmt.Errorf("%s: %w", host, err)
		}
		last = fmt.Errorf("%s: %w", host, err) // 4xx: the next MX may take it
	}
	return queue.Result{}, last
}

// hosts returns the hosts to try for domain, best first.
func (m *MX) hosts(ctx context.Context, domain string) ([]string, error) {
	var r Resolver = net.DefaultResolver
	if m.Resolver != nil {
		r = m.Resolver
	}
	mxs, err := r.LookupMX(ctx, domain)
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
