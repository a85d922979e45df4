package fetch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/emersion/go-imap"
	"github.com/emersion/go-imap/client"
)

// CommandTimeout bounds one IMAP command (IDLE excepted).
const CommandTimeout = 2 * time.Minute

// conn is a signed-in connection with its folder selected.
type conn struct {
	c    *client.Client
	wake chan struct{} // the server announced new mail (EXISTS)
	idle bool          // the server has IDLE
	tls  bool          // TLS from the start or after STARTTLS
	tcp  net.Conn      // the socket under it (deadlines when IDLE ends)
}

func (c *conn) close() {
	// Logout waits for the server's answer; a dead server would keep us.
	c.c.Timeout = 10 * time.Second
	if err := c.c.Logout(); err != nil {
		_ = c.c.Terminate()
	}
}

// dial connects and protects the connection: TLS at once (imaps), or
// STARTTLS (imap) when offered. Without STARTTLS the connection stays
// plain only to a loopback address; elsewhere it is refused, because the
// password or token would travel in clear.
func dial(ctx context.Context, m *Mailbox) (*client.Client, net.Conn, bool, error) {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	tc := &tls.Config{ServerName: m.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: m.TLSInsecure}
	if m.Settings.TLSCAFile != "" {
		pem, err := os.ReadFile(m.Settings.TLSCAFile)
		if err != nil {
			return nil, nil, false, &SignInError{fmt.Errorf("tls_ca_file: %w", err)}
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, nil, false, &SignInError{fmt.Errorf("tls_ca_file %s: no PEM certificate in it", m.Settings.TLSCAFile)}
		}
	}
	var (
		c   *client.Client
		err error
	)
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	raw, err := d.DialContext(dctx, "tcp", m.Addr)
	if err != nil {
		return nil, nil, false, fmt.Errorf("connect to %s: %w", m.Addr, err)
	}
	tcp := raw
	secure := m.Security == TLS
	if secure {
		tconn := tls.Client(raw, tc)
		if err := tconn.HandshakeContext(dctx); err != nil {
			raw.Close()
			return nil, nil, false, fmt.Errorf("TLS with %s: %w", m.Addr, err)
		}
		raw = tconn
	}
	// The greeting, then every command, within CommandTimeout.
	_ = raw.SetDeadline(time.Now().Add(CommandTimeout))
	if c, err = client.New(raw); err != nil {
		raw.Close()
		return nil, nil, false, fmt.Errorf("greeting of %s: %w", m.Addr, err)
	}
	c.Timeout = CommandTimeout
	c.ErrorLog = discard{}
	if m.Security == StartTLS {
		ok, err := c.SupportStartTLS()
		if err != nil {
			c.Terminate()
			return nil, nil, false, fmt.Errorf("capabilities of %s: %w", m.Addr, err)
		}
		switch {
		case ok:
			if err := c.StartTLS(tc); err != nil {
				c.Terminate()
				return nil, nil, false, fmt.Errorf("STARTTLS with %s: %w", m.Addr, err)
			}
			secure = true
		case !loopback(m.Host):
			c.Terminate()
			return nil, nil, false, &SignInError{fmt.Errorf("%s offers no STARTTLS: refusing to send credentials in clear (use imaps://)", m.Addr)}
		}
	}
	return c, tcp, secure, nil
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

type discard struct{}

func (discard) Printf(string, ...interface{}) {}
func (discard) Println(...interface{})        {}

// open connects, signs in and selects m's folder (creating the folder
// messages are moved to).
func open(ctx context.Context, m *Mailbox, sign *signer, readOnly bool) (*conn, *imap.MailboxStatus, error) {
	c, tcp, secure, err := dial(ctx, m)
	if err != nil {
		return nil, nil, err
	}
	cn := &conn{c: c, wake: make(chan struct{}, 1), tls: secure, tcp: tcp}
	updates := make(chan client.Update, 64)
	c.Updates = updates
	go func() {
		for {
			select {
			case u := <-updates:
				if _, ok := u.(*client.MailboxUpdate); ok {
					select {
					case cn.wake <- struct{}{}:
					default:
					}
				}
			case <-c.LoggedOut():
				return
			}
		}
	}()
	if err := sign.signIn(ctx, c); err != nil {
		cn.close()
		return nil, nil, err
	}
	if cn.idle, err = c.Support("IDLE"); err != nil {
		cn.close()
		return nil, nil, fmt.Errorf("capabilities: %w", err)
	}
	if m.After.Kind == "move" && !readOnly {
		if err := ensureFolder(cn, m.After.Folder); err != nil {
			cn.close()
			return nil, nil, err
		}
	}
	mb, err := c.Select(m.Folder, readOnly)
	if err != nil {
		cn.close()
		return nil, nil, fmt.Errorf("select %s: %w", m.Folder, err)
	}
	return cn, mb, nil
}

func ensureFolder(cn *conn, name string) error {
	found, err := folderExists(cn, name)
	if err != nil || found {
		return err
	}
	c := cn.c
	if err := c.Create(name); err != nil {
		return fmt.Errorf("create folder %s: %w", name, err)
	}
	return nil
}

// session runs one connection: sync, wait for news, sync again, until ctx
// ends or the connection fails.
func (f *Fetcher) session(ctx context.Context, m *Mailbox, fence uint64, sign *signer, log *slog.Logger, ok func()) error {
	cn, _, err := open(ctx, m, sign, false)
	if err != nil {
		return err
	}
	defer cn.close()
	// Cut the connection when ctx ends, whatever command is under way.
	stop := context.AfterFunc(ctx, func() { _ = cn.c.Terminate() })
	defer stop()
	log.Info("mailbox open", "folder", m.Folder, "idle", cn.idle, "after", m.After.String())
	for {
		n, err := f.sync(ctx, cn, m, fence, log)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		ok()
		state := "polling"
		if cn.idle {
			state = "idle"
		}
		now := f.Clock.Now()
		f.setStatus(m.Name, func(s *Status) {
			s.State, s.Error, s.Failures, s.LastOK, s.Owner = state, "", 0, now, ""
			s.Fetched += int64(n)
		})
		if err := f.waitForNews(ctx, cn, m); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
	}
}

// waitForNews returns when the folder may have new mail: the server said
// so during IDLE, or the poll interval passed (also with IDLE, as a
// safety net; it re-issues IDLE well before the server's timeout).
func (f *Fetcher) waitForNews(ctx context.Context, cn *conn, m *Mailbox) error {
	if !cn.idle {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-f.Clock.After(m.Poll):
			return nil
		}
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	cn.c.Timeout = 0 // IDLE lasts; the keepalive and the refresh find a dead peer
	go func() { done <- cn.c.Idle(stop, &client.IdleOptions{LogoutTimeout: f.idleRefresh()}) }()
	var err error
	select {
	case <-ctx.Done():
		close(stop)
		<-done
		return ctx.Err()
	case err = <-done:
		if err == nil {
			err = errors.New("IDLE ended by the server")
		}
	case <-cn.wake:
		err = cn.endIdle(stop, done)
	case <-f.Clock.After(min(m.Poll, f.idleRefresh())):
		err = cn.endIdle(stop, done)
	}
	cn.c.Timeout = CommandTimeout
	if err != nil {
		return fmt.Errorf("idle: %w", err)
	}
	return nil
}

// endIdle sends DONE and waits for the server's answer, at most
// CommandTimeout: a server that vanished without a word (no RST) would
// otherwise keep IDLE waiting until TCP keepalive gives up.
func (c *conn) endIdle(stop chan struct{}, done chan error) error {
	_ = c.tcp.SetDeadline(time.Now().Add(CommandTimeout))
	close(stop)
	return <-done
}
