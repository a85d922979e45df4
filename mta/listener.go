package mta

import (
	"context"
	"io"
	"net"
	"strings"
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

// Listen makes a listener for SMTP or LMTP ("tcp" or "unix"). Its TCP
// connections send no keepalive probes (Go's default turns them on, four
// system calls per accepted connection): a client that vanished is found
// by the read timeout and the session deadline, as Postfix's smtpd does.
func Listen(network, addr string) (net.Listener, error) {
	lc := net.ListenConfig{KeepAlive: -1}
	return lc.Listen(context.Background(), network, addr)
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
			_ = dc.SetDeadline(dc.end)
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
	cut  bool // cut off for too many errors, not by the session deadline
	once sync.Once
	// busy is set from MAIL until the transaction ends (after the reply to
	// DATA is written); a draining server closes only connections not busy.
	busy atomic.Bool
	// quit: the last bytes the client sent were a QUIT command, so it
	// sends nothing more and Close needs no lingering read.
	quit atomic.Bool
}

// Read notes whether the client's last bytes were a QUIT command.
func (c *deadlineConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.quit.Store(endsWithQuit(p[:n]))
	}
	return n, err
}

// endsWithQuit tells whether b ends with a whole line "QUIT" (any case).
func endsWithQuit(b []byte) bool {
	const q = "QUIT\r\n"
	if len(b) < len(q) || !strings.EqualFold(string(b[len(b)-len(q):]), q) {
		return false
	}
	return len(b) == len(q) || b[len(b)-len(q)-1] == '\n'
}

// closeAll closes every connection, in a transaction or not.
func (l *limitListener) closeAll() {
	l.mu.Lock()
	all := make([]*deadlineConn, 0, len(l.conns))
	for c := range l.conns {
		all = append(all, c)
	}
	l.mu.Unlock()
	for _, c := range all {
		c.hardClose()
	}
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
		c.hardClose()
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

// writeGrace lets the server write its last reply (the 421) after the
// session deadline has stopped reads.
const writeGrace = 10 * time.Second

func (c *deadlineConn) clampWrite(t time.Time) time.Time {
	if c.end.IsZero() {
		return t
	}
	end := c.end.Add(writeGrace)
	if t.IsZero() || t.After(end) {
		return end
	}
	return t
}

func (c *deadlineConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetReadDeadline(c.clamp(t)); err != nil {
		return err
	}
	return c.Conn.SetWriteDeadline(c.clampWrite(t))
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clampWrite(t))
}

// pastDeadline tells whether the session ran out of time.
func (c *deadlineConn) pastDeadline() bool {
	return !c.cut && !c.end.IsZero() && !time.Now().Before(c.end)
}

// cutOff ends the session at the next read: every read deadline go-smtp
// sets from now on is clamped to now. Called from the connection's own
// goroutine (a session method), like every other use of end.
func (c *deadlineConn) cutOff() {
	c.cut = true
	c.end = time.Now()
	_ = c.Conn.SetReadDeadline(c.end)
}

// Close ends the connection gracefully: it sends FIN, then reads and drops
// what the client still sends for a short while before closing. Closing a
// socket with unread input makes the kernel send RST, and a client that
// receives RST may discard our last reply (the 421 that says why). After
// the client's QUIT (it read the 221, or will, and sends nothing more)
// the socket has no unread input and none coming: it is closed at once,
// which sends FIN, and costs no read and no wait for the client's FIN.
func (c *deadlineConn) Close() error {
	if c.quit.Load() {
		return c.hardClose()
	}
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		if tc.CloseWrite() == nil {
			_ = tc.SetReadDeadline(time.Now().Add(lingerTime))
			_, _ = io.CopyN(io.Discard, tc, lingerBytes)
		}
	}
	return c.hardClose()
}

// Bounds of the lingering close (a variable for the tests).
var lingerTime = 500 * time.Millisecond

const lingerBytes = 64 << 10

func (c *deadlineConn) hardClose() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}
