package mta

import (
	"crypto/tls"
	"testing"

	"github.com/deskmail/deskmail/internal/smtptest"
)

// sink is the tests' fake relay or MX (internal/smtptest), with its TLS
// from SelfSignedTLSConfig.
type sink struct {
	*smtptest.Server
	addr string
}

type sinkMail struct {
	from, to string
	data     []byte
	tls      bool
}

func newSink(t testing.TB, withTLS bool) *sink {
	t.Helper()
	var o smtptest.Options
	if withTLS {
		cfg, err := SelfSignedTLSConfig("sink.test")
		if err != nil {
			t.Fatal(err)
		}
		o.TLS = cfg
	}
	s := smtptest.Start(t, o)
	return &sink{Server: s, addr: s.Addr}
}

func (s *sink) connections() int { return s.Connections() }

// got lists the emails taken, each with the last recipient of its
// transaction (the transports send one recipient per email).
func (s *sink) got() []sinkMail {
	var out []sinkMail
	for _, m := range s.Mails() {
		to := ""
		if len(m.To) > 0 {
			to = m.To[len(m.To)-1]
		}
		out = append(out, sinkMail{from: m.From, to: to, data: m.Data, tls: m.TLS})
	}
	return out
}

// insecureClientTLS trusts the sink's throwaway certificate.
func insecureClientTLS() *tls.Config { return &tls.Config{InsecureSkipVerify: true} }
