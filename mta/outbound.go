// Outbound delivery: the transports the hold queue hands its emails to
// (queue.Transport). capture writes files, relay sends through one
// smarthost with connections reused across emails, mx delivers straight to
// each recipient domain's MX hosts. What a remote server answers decides
// whether the queue retries: a 5xx reply is permanent (RFC 5321 §4.2.1),
// anything else, network trouble included, is temporary.

package mta

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/queue"
)

// sendOne runs one SMTP transaction on c and returns the server's answer to
// the final dot.
func sendOne(c *smtp.Client, from, to string, msg []byte) (string, error) {
	if err := c.Mail(from, nil); err != nil {
		return "", classify("MAIL FROM", err)
	}
	if err := c.Rcpt(to, nil); err != nil {
		return "", classify("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return "", classify("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		w.Close()
		return "", classify("DATA", err)
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		return "", classify("end of DATA", err)
	}
	return "250 " + resp.StatusText, nil
}

// classify marks a 5xx reply permanent; the rest stays temporary.
func classify(stage string, err error) error {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		e := fmt.Errorf("%s: %w", stage, err)
		if se.Code >= 500 {
			return queue.Permanent(e)
		}
		return e
	}
	return fmt.Errorf("%s: %w", stage, err)
}

// isReply tells whether err is an answer of the server (the connection is
// still in step and may be reused after RSET), not a broken connection.
func isReply(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

// dialSMTP connects to addr and says EHLO as hostname, with STARTTLS
// (RFC 3207) when the server offers it. With requireTLS a server without
// it (or a failed handshake) is an error; without, the email goes in
// clear (opportunistic TLS, RFC 7435), on a second connection because
// go-smtp only starts TLS on a fresh client.
func dialSMTP(ctx context.Context, dial DialFunc, addr, hostname string, cfg *tls.Config, requireTLS bool, timeout time.Duration) (*smtp.Client, bool, error) {
	conn, err := dialTimeout(ctx, dial, addr, timeout)
	if err != nil {
		return nil, false, err
	}
	c, err := smtp.NewClientStartTLS(conn, cfg)
	if err == nil {
		c.CommandTimeout = timeout
		conn.SetDeadline(time.Time{})
		if err := c.Hello(hostname); err != nil {
			c.Close()
			return nil, false, classify("EHLO", err)
		}
		return c, true, nil
	}
	if requireTLS {
		return nil, false, fmt.Errorf("STARTTLS: %w", err)
	}
	c, err = dialPlain(ctx, dial, addr, hostname, timeout)
	return c, false, err
}

// dialPlain connects to addr and says EHLO, without TLS.
func dialPlain(ctx context.Context, dial DialFunc, addr, hostname string, timeout time.Duration) (*smtp.Client, error) {
	conn, err := dialTimeout(ctx, dial, addr, timeout)
	if err != nil {
		return nil, err
	}
	c := smtp.NewClient(conn)
	c.CommandTimeout = timeout
	conn.SetDeadline(time.Time{})
	if err := c.Hello(hostname); err != nil {
		c.Close()
		return nil, classify("EHLO", err)
	}
	return c, nil
}

// DialFunc opens a TCP connection (net.Dialer's DialContext is one).
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// dialTimeout dials addr (with dial; nil: a net.Dialer) with a deadline
// on the greeting, which go-smtp reads before its own timeouts apply.
func dialTimeout(ctx context.Context, dial DialFunc, addr string, timeout time.Duration) (net.Conn, error) {
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(timeout))
	return conn, nil
}
