package auth

import (
	"context"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// The UDP sockets to one server are reused, one query at a time each:
// opening a socket per query (socket, connect, setsockopt, getsockname,
// getpeername, close) cost more CPU than the query itself. A socket is
// retired after UDPSocketQueries queries or UDPSocketAge, whichever comes
// first, so the source port still changes often (RFC 5452 section 9.2:
// the port is half of what an off-path forger must guess; the other half,
// the random ID, and the echoed question are checked on every answer). A
// socket whose query failed (timeout, read error) is closed, never
// reused. At most MaxIdleUDP idle sockets are kept per server; more
// queries at once than that open sockets of their own, closed after use.
const (
	UDPSocketQueries = 100
	UDPSocketAge     = 30 * time.Second
	MaxIdleUDP       = 128
)

var metricDNSSockets = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "deskmail_dns_udp_sockets_total",
	Help: "UDP sockets the DNS client opened (opened) and the queries it sent over a socket already open (reused).",
}, []string{"socket"})

// udpPool holds the idle connected UDP sockets to one server.
type udpPool struct {
	addr string
	size uint16 // the EDNS buffer size the queries announce
	mu   sync.Mutex
	idle []*udpConn
	shut bool
}

type udpConn struct {
	*dns.Conn
	born    time.Time
	queries int
}

// get takes an idle socket, or opens one.
func (p *udpPool) get(ctx context.Context) (*udpConn, error) {
	p.mu.Lock()
	for n := len(p.idle); n > 0; n = len(p.idle) {
		c := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		if time.Since(c.born) < UDPSocketAge {
			p.mu.Unlock()
			metricDNSSockets.WithLabelValues("reused").Inc()
			return c, nil
		}
		_ = c.Close()
	}
	p.mu.Unlock()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "udp", p.addr)
	if err != nil {
		return nil, err
	}
	metricDNSSockets.WithLabelValues("opened").Inc()
	return &udpConn{Conn: &dns.Conn{Conn: nc, UDPSize: p.size}, born: time.Now()}, nil
}

// put gives a socket back after a query: kept when the query went well
// and the socket has queries and time left, closed otherwise.
func (p *udpPool) put(c *udpConn, ok bool) {
	c.queries++
	if ok && c.queries < UDPSocketQueries && time.Since(c.born) < UDPSocketAge {
		p.mu.Lock()
		if !p.shut && len(p.idle) < MaxIdleUDP {
			p.idle = append(p.idle, c)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	_ = c.Close()
}

// close closes the idle sockets; those in use are closed when given back.
func (p *udpPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shut = true
	for _, c := range p.idle {
		_ = c.Close()
	}
	p.idle = nil
}

// exchangeUDP sends q over a pooled socket and waits, until deadline, for
// the answer with q's ID and question. Answers that are not (a late
// duplicate of an earlier query's answer, or a forgery) are skipped.
func (p *udpPool) exchangeUDP(ctx context.Context, q *dns.Msg, deadline time.Time) (*dns.Msg, error) {
	c, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	resp, err := c.exchange(q, deadline)
	p.put(c, err == nil)
	return resp, err
}

func (c *udpConn) exchange(q *dns.Msg, deadline time.Time) (*dns.Msg, error) {
	if err := c.SetDeadline(deadline); err != nil {
		return nil, err
	}
	if err := c.WriteMsg(q); err != nil {
		return nil, err
	}
	for {
		p, err := c.ReadMsgHeader(nil)
		if err != nil {
			return nil, err
		}
		resp := new(dns.Msg)
		if err := resp.Unpack(p); err != nil {
			if resp.Id == q.Id && resp.Truncated {
				return resp, nil // cut short: the caller asks again over TCP
			}
			continue // not a DNS answer we can read: not ours
		}
		if resp.Id != q.Id {
			continue
		}
		if sameQuestion(q, resp) {
			return resp, nil
		}
		// A header alone (some servers answer REFUSED so) is taken as
		// the failure it says, never as an answer to cache.
		if len(resp.Question) == 0 && resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			return resp, nil
		}
	}
}

// sameQuestion tells whether an answer echoes the query's question (RFC
// 5452 section 4.2; names compared without regard to case, which some
// servers randomise).
func sameQuestion(q, r *dns.Msg) bool {
	if len(q.Question) != len(r.Question) {
		return false
	}
	for i, a := range q.Question {
		b := r.Question[i]
		if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
			return false
		}
	}
	return true
}

// pool returns the socket pool of server srv.
func (d *DNS) pool(srv string) *udpPool {
	d.poolsMu.Lock()
	defer d.poolsMu.Unlock()
	if d.pools == nil {
		d.pools = map[string]*udpPool{}
	}
	p := d.pools[srv]
	if p == nil {
		p = &udpPool{addr: srv, size: ednsSize, shut: d.closed}
		d.pools[srv] = p
	}
	return p
}

// Close closes the idle sockets; the resolver still answers afterwards,
// opening a socket per query.
func (d *DNS) Close() error {
	d.poolsMu.Lock()
	defer d.poolsMu.Unlock()
	d.closed = true
	for _, p := range d.pools {
		p.close()
	}
	return nil
}
