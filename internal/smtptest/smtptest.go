// Package smtptest is the one fake SMTP server of deskmail's tests: a
// real go-smtp server on 127.0.0.1:0 that stands in for a relay or an MX,
// keeps what it is sent, and answers as the test says.
package smtptest

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Options of a Server. The zero value is a plain server on 127.0.0.1:0.
type Options struct {
	Domain string      // its name in the greeting (default "sink.test")
	TLS    *tls.Config // offers STARTTLS when set
	// Password is what AUTH PLAIN accepts, for any user (default
	// "secret"); every attempt is recorded (Auths).
	Password string
}

// Mail is one email the server took: one DATA.
type Mail struct {
	From string
	To   []string // the recipients of its transaction
	Data []byte
	TLS  bool // sent over STARTTLS
}

// Server is a running fake.
type Server struct {
	Addr string
	// Answer, if set, decides the reply to the n-th DATA (1-based): nil
	// is 250. Set it before mail arrives.
	Answer func(n int) error

	srv      *smtp.Server
	password string
	mu       sync.Mutex
	mails    []Mail
	conns    map[string]bool
	auths    []string
	datas    int
	got      chan struct{}
}

// Start starts a server that the test's cleanup stops.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	s := &Server{conns: map[string]bool{}, got: make(chan struct{}, 1), password: o.Password}
	if s.password == "" {
		s.password = "secret"
	}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = o.Domain
	if s.srv.Domain == "" {
		s.srv.Domain = "sink.test"
	}
	s.srv.AllowInsecureAuth = true
	s.srv.TLSConfig = o.TLS
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns[c.Conn().RemoteAddr().String()] = true // NewSession runs at every EHLO; count TCP connections
	s.mu.Unlock()
	return &session{s: s, conn: c}, nil
}

// Mails returns the emails taken so far.
func (s *Server) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.mails)
}

// Connections is the number of TCP connections seen.
func (s *Server) Connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Auths lists the AUTH attempts as "user:password".
func (s *Server) Auths() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.auths)
}

// Wait returns the emails once there are at least n, or fails the test
// after timeout.
func (s *Server) Wait(t testing.TB, n int, timeout time.Duration) []Mail {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if got := s.Mails(); len(got) >= n {
			return got
		}
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("the SMTP server got %d emails within %v, want %d", len(s.Mails()), timeout, n)
		}
	}
}

type session struct {
	s    *Server
	conn *smtp.Conn
	from string
	to   []string
}

func (ss *session) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		ss.s.mu.Lock()
		ss.s.auths = append(ss.s.auths, user+":"+pass)
		ss.s.mu.Unlock()
		if pass != ss.s.password {
			return errors.New("bad password")
		}
		return nil
	}), nil
}
func (ss *session) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.datas++
	if ss.s.Answer != nil {
		if err := ss.s.Answer(ss.s.datas); err != nil {
			return err
		}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.mails = append(ss.s.mails, Mail{From: ss.from, To: slices.Clone(ss.to), Data: b, TLS: isTLS})
	select { // never block a session: Wait re-counts the mails
	case ss.s.got <- struct{}{}:
	default:
	}
	return nil
}
func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
