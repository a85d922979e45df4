// Package mta is deskmail's SMTP and LMTP front door. It owns the protocol
// (through github.com/emersion/go-smtp) and the limits on everything a
// client can send; what happens to a message is decided behind the
// Receiver interface, which answers only once the message is durable.
//
// go-smtp's defaults are unlimited, so every limit is set here: message
// size (announced in EHLO, checked on MAIL SIZE= and while reading DATA),
// recipients, line length, read and write timeouts, a whole-session
// deadline, and global and per-IP connection limits.
package mta

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/inbound"
)

// Receiver stores accepted messages and journals refusals.
type Receiver interface {
	Receive(ctx context.Context, env inbound.Envelope, data io.Reader) (inbound.Receipt, error)
	Reject(ctx context.Context, env inbound.Envelope, reason string) error
	// Busy is non-nil while the receiver takes no new mail (its backlog
	// over its bound); sessions ask before MAIL FROM and answer 451.
	Busy() error
}

// Config holds the protocol limits. Zero values take the defaults below.
type Config struct {
	Hostname        string
	Domains         []string // domains mail is accepted for
	MaxMessageBytes int64
	MaxRecipients   int
	MaxLineBytes    int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	SessionTimeout  time.Duration
	MaxConns        int
	MaxConnsPerIP   int
	TLS             *tls.Config // STARTTLS when set
	// Recipients refuses unknown addresses of Domains at RCPT; nil
	// accepts every address of Domains.
	Recipients RecipientPolicy
}

// Defaults for Config's zero values.
var Defaults = Config{
	Hostname:        "localhost",
	MaxMessageBytes: 25 << 20,
	MaxRecipients:   100,
	MaxLineBytes:    64 << 10,
	ReadTimeout:     5 * time.Minute,
	WriteTimeout:    5 * time.Minute,
	SessionTimeout:  30 * time.Minute,
	MaxConns:        500,
	MaxConnsPerIP:   20,
}

func (c Config) withDefaults() Config {
	d := Defaults
	// max(v, 0): a negative limit takes the default too.
	c.Hostname = cmp.Or(c.Hostname, d.Hostname)
	c.MaxMessageBytes = cmp.Or(max(c.MaxMessageBytes, 0), d.MaxMessageBytes)
	c.MaxRecipients = cmp.Or(max(c.MaxRecipients, 0), d.MaxRecipients)
	c.MaxLineBytes = cmp.Or(max(c.MaxLineBytes, 0), d.MaxLineBytes)
	c.ReadTimeout = cmp.Or(max(c.ReadTimeout, 0), d.ReadTimeout)
	c.WriteTimeout = cmp.Or(max(c.WriteTimeout, 0), d.WriteTimeout)
	c.SessionTimeout = cmp.Or(max(c.SessionTimeout, 0), d.SessionTimeout)
	c.MaxConns = cmp.Or(max(c.MaxConns, 0), d.MaxConns)
	c.MaxConnsPerIP = cmp.Or(max(c.MaxConnsPerIP, 0), d.MaxConnsPerIP)
	return c
}

// Server serves SMTP and LMTP listeners.
type Server struct {
	cfg     Config
	recv    Receiver
	log     *slog.Logger
	domains inbound.Domains

	mu        sync.Mutex
	servers   []*smtp.Server
	listeners []*limitListener
	draining  atomic.Bool
	// ctx is the parent of every transaction's context; Shutdown cancels
	// it when the transactions still running are cut off.
	ctx    context.Context
	cancel context.CancelFunc

	refusing  chan struct{}
	refMu     sync.Mutex
	refusedAt map[string]time.Time
}

// New makes a server; call ServeSMTP or ServeLMTP with listeners.
func New(cfg Config, recv Receiver, log *slog.Logger) *Server {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	return &Server{cfg: cfg, recv: recv, log: log, domains: inbound.NewDomains(cfg.Domains),
		refusing: make(chan struct{}, maxRefusing), refusedAt: map[string]time.Time{}, ctx: ctx, cancel: cancel}
}

// ServeSMTP accepts SMTP connections on ln until Shutdown.
func (s *Server) ServeSMTP(ln net.Listener) error { return s.serve(ln, false) }

// ServeLMTP accepts LMTP connections (TCP or unix socket) on ln.
func (s *Server) ServeLMTP(ln net.Listener) error { return s.serve(ln, true) }

func (s *Server) serve(ln net.Listener, lmtp bool) error {
	proto := "smtp"
	if lmtp {
		proto = "lmtp"
	}
	srv := smtp.NewServer(&backend{s: s, lmtp: lmtp})
	srv.LMTP = lmtp
	srv.Domain = s.cfg.Hostname
	srv.MaxMessageBytes = s.cfg.MaxMessageBytes
	// Recipients are counted in Rcpt so the refusal can be journaled.
	srv.MaxRecipients = 0
	srv.MaxLineLength = s.cfg.MaxLineBytes
	srv.ReadTimeout = s.cfg.ReadTimeout
	srv.WriteTimeout = s.cfg.WriteTimeout
	srv.EnableSMTPUTF8 = true
	srv.TLSConfig = s.cfg.TLS
	srv.ErrorLog = slogAdapter{s.log.With("proto", proto)}
	srv.Greeting = banner(s.cfg.Hostname, lmtp)
	srv.OnRefuse = s.onRefuse(proto)
	// A bare LF in DATA is refused at once (and LF.LF never ends the
	// data), as Postfix's smtpd_forbid_bare_newline does.
	srv.RejectBareLF = true
	ll := newLimitListener(ln, s.cfg.MaxConns, s.cfg.MaxConnsPerIP, s.cfg.SessionTimeout,
		func(c net.Conn, ip, reason string) { s.refuseConn(c, proto, ip, reason) })
	accepted, active := metricConnections.WithLabelValues(proto, "accepted"), metricActive.WithLabelValues(proto)
	ll.onAccept = func() {
		accepted.Inc()
		active.Inc()
	}
	ll.onClose = func() { active.Dec() }
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		ln.Close() // stopped before it served: not an error
		return nil
	}
	s.servers = append(s.servers, srv)
	s.listeners = append(s.listeners, ll)
	s.mu.Unlock()
	err := srv.Serve(ll)
	if errors.Is(err, smtp.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// refuseConn answers a connection over a limit with 421 and closes it. A
// flood of connections must not turn into a flood of goroutines or of
// journal writes: at most maxRefusing refusals run at once (past that the
// connection is just closed), and each IP is journaled at most once a
// minute.
func (s *Server) refuseConn(c net.Conn, proto, ip, reason string) {
	defer c.Close()
	metricConnections.WithLabelValues(proto, "rejected").Inc()
	select {
	case s.refusing <- struct{}{}:
		defer func() { <-s.refusing }()
	default:
		return
	}
	if !s.refusedRecently(ip) {
		s.log.Warn("connection refused", "proto", proto, "remote", ip, "reason", reason)
		_ = s.recv.Reject(context.Background(), inbound.Envelope{RemoteIP: ip, Proto: strings.ToUpper(proto)}, reason)
	}
	_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "421 4.7.0 %s %s, try again later\r\n", s.cfg.Hostname, reason)
}

const (
	maxRefusing     = 32
	refusalInterval = time.Minute
	maxRefusalIPs   = 10000
)

// refusedRecently tells whether ip was journaled as refused within the last
// refusalInterval, and records it now if not.
func (s *Server) refusedRecently(ip string) bool {
	s.refMu.Lock()
	defer s.refMu.Unlock()
	now := time.Now()
	if t, ok := s.refusedAt[ip]; ok && now.Sub(t) < refusalInterval {
		return true
	}
	if len(s.refusedAt) >= maxRefusalIPs {
		for k, t := range s.refusedAt {
			if now.Sub(t) >= refusalInterval {
				delete(s.refusedAt, k)
			}
		}
		if len(s.refusedAt) >= maxRefusalIPs {
			return true // under attack from many addresses: metrics only
		}
	}
	s.refusedAt[ip] = now
	return false
}

// Shutdown stops accepting, closes idle connections at once, and lets
// sessions in the middle of a transaction finish until ctx ends; then it
// cancels their transactions' contexts (a Receive waiting on the store
// returns) and closes them too. Nothing is lost either way: a message is acknowledged
// only once stored, and a client cut off before our 250 retries.
func (s *Server) Shutdown(ctx context.Context) error {
	s.draining.Store(true)
	s.mu.Lock()
	servers := append([]*smtp.Server(nil), s.servers...)
	listeners := append([]*limitListener(nil), s.listeners...)
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, srv := range servers {
			wg.Add(1)
			go func() { defer wg.Done(); _ = srv.Shutdown(context.Background()) }()
		}
		wg.Wait()
		close(done)
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, l := range listeners {
			l.closeIdle()
		}
		select {
		case <-done:
			s.cancel()
			return nil
		case <-ctx.Done():
			// go-smtp's Close does nothing once Shutdown has begun: close
			// the connections still in a transaction ourselves.
			s.cancel()
			for _, l := range listeners {
				l.closeAll()
			}
			<-done
			return ctx.Err()
		case <-tick.C:
		}
	}
}

type backend struct {
	s    *Server
	lmtp bool
}

func (b *backend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	if b.s.draining.Load() {
		return nil, &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Shutting down, try again later"}
	}
	nc := c.Conn()
	proto := "ESMTP"
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
		proto = "ESMTPS"
	}
	if b.lmtp {
		proto = "LMTP"
	}
	dc, _ := nc.(*deadlineConn)
	var ip string
	if dc != nil {
		ip = dc.ip // found once, at Accept
	} else {
		ip = remoteIP(nc)
	}
	return &session{s: b.s, conn: dc, ip: ip, helo: c.Hostname(), proto: proto}, nil
}

// slogAdapter lets go-smtp log through slog.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...interface{}) { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...interface{})               { a.l.Warn(fmt.Sprint(v...)) }
