package mta

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/emersion/go-smtp"
)

// RecipientPolicy knows which addresses of our domains take mail, so an
// unknown one is refused at RCPT (550 5.1.1) and the sender learns at once
// that the address is wrong (SPEC section 5). threading.Addresses is one.
type RecipientPolicy interface {
	// Check returns what kind of recipient addr is ("support address",
	// "role address" ...), or an error saying why deskmail has no such
	// address. addr is of one of our domains, or the bare "postmaster".
	Check(addr string) (kind string, err error)
}

// The texts of our replies: short, with enhanced status codes (RFC 3463),
// as mail servers write them, instead of go-smtp's chatty defaults.
var (
	replySenderOK    = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 1, 0}, Message: "Sender OK"}
	replyRecipientOK = &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 1, 5}, Message: "Recipient OK"}
	errNoSuchUser    = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such address here: check the address and try again"}
	errBareLF        = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 5, 2},
		Message: "Message refused: bare LF in the data; lines must end with CRLF (RFC 5321 section 2.3.8)"}
)

// banner is the 220 greeting: the host, and that deskmail answers.
func banner(host string, lmtp bool) string {
	if lmtp {
		return host + " LMTP deskmail ready"
	}
	return host + " ESMTP deskmail ready"
}

// errBareLFData marks a message refused for a bare LF, whichever reader
// saw it (go-smtp's for DATA, ours for BDAT chunks).
var errBareLFData = errors.New("bare LF in message data")

// crlfReader fails at the first LF not preceded by CR. go-smtp refuses
// it in DATA (Server.RejectBareLF), so DATA's data skips this second
// look (checkCRLF); BDAT chunks reach the session as they
// came, so the session checks them here (RFC 3030 chunks are counted
// bytes, so reading one never waits for an end marker).
type crlfReader struct {
	r      io.Reader
	prevCR bool
}

func (c *crlfReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	b := p[:n]
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], '\n')
		if i < 0 {
			break
		}
		i += off
		if i == 0 && !c.prevCR || i > 0 && b[i-1] != '\r' {
			c.prevCR = false
			return i, errBareLFData
		}
		off = i + 1
	}
	if n > 0 {
		c.prevCR = b[n-1] == '\r'
	}
	return n, err
}

// onRefuse logs (and, within a transaction, journals) the refusals go-smtp
// decides on by itself: MAIL SIZE= over the limit, syntax errors, BDAT
// over the size, timeouts. The session's own refusals are logged where
// they are decided.
func (s *Server) onRefuse(proto string) func(*smtp.Conn, *smtp.SMTPError) {
	return func(c *smtp.Conn, reply *smtp.SMTPError) {
		ss, _ := c.Session().(*session)
		if ss == nil {
			metricMessages.WithLabelValues("rejected", "protocol").Inc()
			s.log.Info("command refused", "proto", proto, "remote", remoteIP(c.Conn()),
				"code", reply.Code, "reply", reply.Message)
			return
		}
		reason := strings.ToLower(reply.Message)
		metric := "protocol"
		switch {
		case reply.EnhancedCode == smtp.EnhancedCode{5, 3, 4} && !ss.hasFrom:
			metric, reason = "too_large", fmt.Sprintf("MAIL FROM SIZE= over the limit of %d bytes", s.cfg.MaxMessageBytes)
		case reply.EnhancedCode == smtp.EnhancedCode{5, 3, 4}:
			metric, reason = "too_large", "BDAT chunks over the size limit"
		case reply.EnhancedCode == smtp.EnhancedCode{4, 4, 2}:
			metric = "timeout"
		}
		metricMessages.WithLabelValues("rejected", metric).Inc()
		ss.logger().Info("command refused", "code", reply.Code, "reply", reply.Message)
		if ss.hasFrom || metric == "too_large" {
			ss.journal(ss.envelope(), reason)
		}
	}
}
