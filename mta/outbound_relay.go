package mta

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/queue"
)

// Relay sends every email through one smarthost (--relay host:port):
// STARTTLS (required unless Insecure), AUTH PLAIN or LOGIN when a username
// is set, and connections kept open between emails, so a burst of
// notifications costs one TCP and TLS handshake, not one per email.
type Relay struct {
	Addr     string // host:port
	Hostname string // our name in EHLO
	Username string
	Password string
	// Insecure talks to the relay in clear (a local Postfix on
	// loopback). Without it STARTTLS is required, and a relay that does
	// not offer it is a temporary failure: credentials and mail never
	// cross in clear.
	Insecure bool
	// TLS is the client TLS configuration (nil: system roots, ServerName
	// from Addr).
	TLS *tls.Config
	// MaxIdle is how many idle connections are kept (0: 4; negative:
	// none, a connection per email).
	MaxIdle int
	// Timeout bounds dialling and each command (default 1m).
	Timeout time.Duration

	mu   sync.Mutex
	idle []*smtp.Client
}

// Deliver implements queue.Transport.
func (r *Relay) Deliver(ctx context.Context, from, to string, msg []byte) (queue.Result, error) {
	c, reused, err := r.get(ctx)
	if err != nil {
		return queue.Result{}, err
	}
	reply, err := sendOne(c, from, to, msg)
	if err != nil && reused && !isReply(err) {
		// An idle connection the relay had closed: once more on a new one.
		c.Close()
		if c, _, err = r.dial(ctx); err != nil {
			return queue.Result{}, err
		}
		reply, err = sendOne(c, from, to, msg)
	}
	r.put(c, err)
	if err != nil {
		return queue.Result{}, err
	}
	return queue.Result{Reply: reply}, nil
}

func (r *Relay) get(ctx context.Context) (*smtp.Client, bool, error) {
	r.mu.Lock()
	if n := len(r.idle); n > 0 {
		c := r.idle[n-1]
		r.idle = r.idle[:n-1]
		r.mu.Unlock()
		return c, true, nil
	}
	r.mu.Unlock()
	return r.dial(ctx)
}

// put keeps c for the next email if it is still in step with the server.
func (r *Relay) put(c *smtp.Client, err error) {
	if err != nil && (!isReply(err) || c.Reset() != nil) {
		c.Close()
		return
	}
	max := r.MaxIdle
	if max == 0 {
		max = 4
	}
	r.mu.Lock()
	if len(r.idle) < max {
		r.idle = append(r.idle, c)
		c = nil
	}
	r.mu.Unlock()
	if c != nil {
		c.Quit()
	}
}

func (r *Relay) timeout() time.Duration {
	if r.Timeout > 0 {
		return r.Timeout
	}
	return time.Minute
}

func (r *Relay) dial(ctx context.Context) (*smtp.Client, bool, error) {
	cfg := r.TLS
	if cfg == nil {
		host, _, _ := net.SplitHostPort(r.Addr)
		cfg = &tls.Config{ServerName: host}
	}
	var c *smtp.Client
	var err error
	if r.Insecure {
		c, err = dialPlain(ctx, nil, r.Addr, r.Hostname, r.timeout())
	} else {
		c, _, err = dialSMTP(ctx, nil, r.Addr, r.Hostname, cfg, true, r.timeout())
	}
	if err != nil {
		return nil, false, fmt.Errorf("relay %s: %w", r.Addr, err)
	}
	if err := r.auth(c); err != nil {
		c.Close()
		return nil, false, err
	}
	return c, false, nil
}

func (r *Relay) auth(c *smtp.Client) error {
	if r.Username == "" {
		return nil
	}
	var auth sasl.Client
	switch {
	case c.SupportsAuth("PLAIN"):
		auth = sasl.NewPlainClient("", r.Username, r.Password)
	case c.SupportsAuth("LOGIN"):
		auth = sasl.NewLoginClient(r.Username, r.Password)
	default:
		return fmt.Errorf("relay %s offers neither AUTH PLAIN nor AUTH LOGIN", r.Addr)
	}
	if err := c.Auth(auth); err != nil {
		// A refused login is the operator's to fix, but mail must wait
		// for it, not bounce: temporary whatever the code.
		return fmt.Errorf("relay %s: AUTH: %v", r.Addr, err)
	}
	return nil
}

// Close ends the idle connections.
func (r *Relay) Close() {
	r.mu.Lock()
	idle := r.idle
	r.idle = nil
	r.mu.Unlock()
	for _, c := range idle {
		c.Quit()
	}
}
