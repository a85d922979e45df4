package mta

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// sink is a go-smtp server on 127.0.0.1:0 that stands in for a relay or
// an MX: it keeps what it is sent and answers DATA as answer says.
type sink struct {
	srv   *smtp.Server
	addr  string
	mu    sync.Mutex
	mails []sinkMail
	conns map[string]bool
	auths []string
	// answer, if set, decides the reply to the n-th DATA (1-based); nil
	// error is 250.
	answer func(n int) error
	datas  int
}

type sinkMail struct {
	from, to string
	data     []byte
	tls      bool
}

func newSink(t testing.TB, withTLS bool) *sink {
	t.Helper()
	s := &sink{conns: map[string]bool{}}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "sink.test"
	s.srv.AllowInsecureAuth = true
	if withTLS {
		cfg, err := SelfSignedTLSConfig("sink.test")
		if err != nil {
			t.Fatal(err)
		}
		s.srv.TLSConfig = cfg
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *sink) NewSession(c *smtp.Conn) (smtp.Session, error) {
	s.mu.Lock()
	s.conns[c.Conn().RemoteAddr().String()] = true // NewSession runs at every EHLO; count TCP connections
	s.mu.Unlock()
	_, isTLS := c.TLSConnectionState()
	return &sinkSession{s: s, conn: c, tls: isTLS}, nil
}

func (s *sink) connections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *sink) got() []sinkMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sinkMail(nil), s.mails...)
}

type sinkSession struct {
	s        *sink
	conn     *smtp.Conn
	tls      bool
	from, to string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		ss.s.mu.Lock()
		ss.s.auths = append(ss.s.auths, user+":"+pass)
		ss.s.mu.Unlock()
		if pass != "secret" {
			return errors.New("bad password")
		}
		return nil
	}), nil
}
func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error { ss.from = from; return nil }
func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error   { ss.to = to; return nil }
func (ss *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	ss.s.mu.Lock()
	defer ss.s.mu.Unlock()
	ss.s.datas++
	if ss.s.answer != nil {
		if err := ss.s.answer(ss.s.datas); err != nil {
			return err
		}
	}
	_, isTLS := ss.conn.TLSConnectionState()
	ss.s.mails = append(ss.s.mails, sinkMail{from: ss.from, to: ss.to, data: b, tls: isTLS})
	return nil
}
func (ss *sinkSession) Reset()        {}
func (ss *sinkSession) Logout() error { return nil }

// insecureClientTLS trusts the sink's throwaway certificate.
func insecureClientTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
