package mta

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// limitListener enforces the global and per-IP connection limits and puts
// a whole-session deadline on every connection it hands out.
//
// go-smtp only knows per-read and per-write timeouts, so a client that
// drips one byte before each timeout could hold a session forever. The
// deadlineConn below clamps every deadline go-smtp sets (including those
// after STARTTLS, since tls.Conn delegates to the wrapped conn) to the
// session's end.
type limitListener struct {
	net.Listener
	maxConns   int
	maxPerIP   int
	sessionMax time.Duration
	onReject   func(c net.Conn, ip, reason string)
	onAccept   func()
	onClose    func()

	mu    sync.Mutex
	total int
	perIP map[string]int
	conns map[*deadlineConn]struct{}
}

func newLimitListener(l net.Listener, maxConns, maxPerIP int, sessionMax time.Duration, onReject func(net.Conn, string, string)) *limitListener {
	return &limitListener{Listener: l, maxConns: maxConns, maxPerIP: maxPerIP,
		sessionMax: sessionMax, onReject: onReject, perIP: map[string]int{},
		conns: map[*deadlineConn]struct{}{}, onAccept: func() {}, onClose: func() {}}
}

func remoteIP(c net.Conn) string {
	if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		return a.IP.String()
	}
	return "local"
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		l.mu.Lock()
		reason := ""
		switch {
		case l.maxConns > 0 && l.total >= l.maxConns:
			reason = "too many connections"
		case l.maxPerIP > 0 && ip != "local" && l.perIP[ip] >= l.maxPerIP:
			reason = "too many connections from " + ip
		default:
			l.total++
			l.perIP[ip]++
		}
		if reason != "" {
			l.mu.Unlock()
			go l.onReject(c, ip, reason)
			continue
		}
		dc := &deadlineConn{Conn: c, l: l, ip: ip}
		l.conns[dc] = struct{}{}
		l.mu.Unlock()
		l.onAccept()
		if l.sessionMax > 0 {
			dc.end = time.Now().Add(l.sessionMax)
			_ = c.SetDeadline(dc.end)
		}
		return dc, nil
	}
}

func (l *limitListener) release(c *deadlineConn) {
	l.onClose()
	l.mu.Lock()
	defer l.mu.Unlock()
	ip := c.ip
	delete(l.conns, c)
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}

type deadlineConn struct {
	net.Conn
	l    *limitListener
	ip   string
	end  time.Time
	once sync.Once
	// busy is set from MAIL until the transaction ends (after the reply to
	// DATA is written); a draining server closes only connections not busy.
	busy atomic.Bool
}

// closeIdle closes every connection that is not in a transaction.
func (l *limitListener) closeIdle() {
	l.mu.Lock()
	var idle []*deadlineConn
	for c := range l.conns {
		if !c.busy.Load() {
			idle = append(idle, c)
		}
	}
	l.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
}

func (c *deadlineConn) clamp(t time.Time) time.Time {
	if c.end.IsZero() {
		return t
	}
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error     { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

// pastDeadline tells whether the session ran out of time.
func (c *deadlineConn) pastDeadline() bool { return !c.end.IsZero() && !time.Now().Before(c.end) }

func (c *deadlineConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}
