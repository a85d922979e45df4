// Package httplimit bounds what clients can hold of the daemon's HTTP
// listener: time (a deadline on the request's header, on the whole
// request with its body, on writing the answer, and on an idle
// keep-alive connection) and connections (in all, and per client
// address). A POST that sends one byte a minute is cut at the read
// deadline; a thousand slow connections from one address take only that
// address's share, so /healthz and the console keep answering others.
//
// A handler that streams (server-sent events) lifts the read deadline
// and sets a write deadline per write itself, through
// http.ResponseController.
package httplimit

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/netutil"
)

// Limits of one HTTP listener; a zero field takes its default.
type Limits struct {
	ReadHeaderTimeout time.Duration // the request line and header
	ReadTimeout       time.Duration // the whole request, body included
	WriteTimeout      time.Duration // the answer, from the end of the header
	IdleTimeout       time.Duration // a keep-alive connection between requests
	MaxConns          int           // open connections in all; past it new ones wait
	MaxConnsPerIP     int           // open connections per address (IPv6: per /64); past it refused
	MaxHeaderBytes    int
}

// The defaults.
var Default = Limits{
	ReadHeaderTimeout: 10 * time.Second,
	ReadTimeout:       60 * time.Second,
	WriteTimeout:      60 * time.Second,
	IdleTimeout:       2 * time.Minute,
	MaxConns:          512,
	MaxConnsPerIP:     64,
	MaxHeaderBytes:    64 << 10,
}

func (l Limits) orDefault() Limits {
	pick := func(v, d time.Duration) time.Duration {
		if v > 0 {
			return v
		}
		return d
	}
	pickInt := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	return Limits{
		ReadHeaderTimeout: pick(l.ReadHeaderTimeout, Default.ReadHeaderTimeout),
		ReadTimeout:       pick(l.ReadTimeout, Default.ReadTimeout),
		WriteTimeout:      pick(l.WriteTimeout, Default.WriteTimeout),
		IdleTimeout:       pick(l.IdleTimeout, Default.IdleTimeout),
		MaxConns:          pickInt(l.MaxConns, Default.MaxConns),
		MaxConnsPerIP:     pickInt(l.MaxConnsPerIP, Default.MaxConnsPerIP),
		MaxHeaderBytes:    pickInt(l.MaxHeaderBytes, Default.MaxHeaderBytes),
	}
}

// Server is an http.Server for h with the time limits.
func Server(h http.Handler, lim Limits) *http.Server {
	lim = lim.orDefault()
	return &http.Server{Handler: h, ReadHeaderTimeout: lim.ReadHeaderTimeout, ReadTimeout: lim.ReadTimeout,
		WriteTimeout: lim.WriteTimeout, IdleTimeout: lim.IdleTimeout, MaxHeaderBytes: lim.MaxHeaderBytes}
}

// Listener wraps l with the connection caps: MaxConns in all (a new
// connection waits in the kernel's queue for a free slot,
// netutil.LimitListener), MaxConnsPerIP per address (a connection over
// it is answered 503 and closed at once).
func Listener(l net.Listener, lim Limits) net.Listener {
	lim = lim.orDefault()
	return &perIP{Listener: netutil.LimitListener(l, lim.MaxConns), max: lim.MaxConnsPerIP, open: map[netip.Prefix]int{}}
}

// perIP counts the open connections of each client address.
type perIP struct {
	net.Listener
	max  int
	mu   sync.Mutex
	open map[netip.Prefix]int
}

// busy is what a connection over its address's cap reads before the close.
const busy = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 10\r\nConnection: close\r\nContent-Length: 41\r\n\r\ntoo many connections from your address.\n"

func (l *perIP) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, ok := clientKey(c.RemoteAddr())
		if !ok { // a unix socket: no address to count
			return c, nil
		}
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			// A fresh socket's send buffer takes these bytes at once.
			_ = c.SetWriteDeadline(time.Now().Add(time.Second))
			_, _ = io.WriteString(c, busy)
			c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &countedConn{Conn: c, release: func() { l.release(key) }}, nil
	}
}

func (l *perIP) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[key]--; l.open[key] <= 0 {
		delete(l.open, key)
	}
}

// clientKey is the address a connection counts against: the IPv4
// address, or the IPv6 /64 (one subscriber's usual allocation).
func clientKey(a net.Addr) (netip.Prefix, bool) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return netip.Prefix{}, false
	}
	ip, ok := netip.AddrFromSlice(ta.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	return ClientPrefix(ip), true
}

// ClientPrefix is what one client's address counts as: the IPv4 address
// (an IPv4-mapped IPv6 one unmapped), or the IPv6 /64 (one subscriber's
// usual allocation). The console's login limiter keys clients the same way.
func ClientPrefix(ip netip.Addr) netip.Prefix {
	ip = ip.Unmap().WithZone("")
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.Prefix(64)
	return p
}

// countedConn gives its address's slot back when closed (once), before
// the socket's close: a client that has seen the connection end finds its
// slot free (it was given back after, and a reconnect at once could be
// refused with its address's slots all taken).
type countedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *countedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}
