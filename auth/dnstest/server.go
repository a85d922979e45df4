// Package dnstest is a real DNS server on 127.0.0.1 (UDP and TCP, through
// github.com/miekg/dns) for tests and the pipeline benchmark: it answers
// the TXT, MX, A and AAAA records it is given, NXDOMAIN with an SOA for every other name,
// after a chosen delay, and can hold the queries for chosen names until
// released (a resolver that never answers, until it does).
package dnstest

import (
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// Server is a running test DNS server.
type Server struct {
	Addr string // host:port, UDP and TCP

	udp, tcp *dns.Server
	mu       sync.Mutex
	delay    time.Duration
	txt      map[string][]string
	mx       map[string][]*dns.MX
	addrs    map[string][]net.IP
	hold     func(name string) bool
	release  chan struct{}
	queries  map[string]int
	sources  map[string]bool
	ttl      uint32
}

// Start listens on 127.0.0.1 on a free port.
func Start() (*Server, error) {
	pc, l, err := listenBoth()
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: pc.LocalAddr().String(), txt: map[string][]string{}, mx: map[string][]*dns.MX{}, addrs: map[string][]net.IP{}, queries: map[string]int{},
		sources: map[string]bool{}, release: make(chan struct{}), ttl: 300}
	s.udp = &dns.Server{PacketConn: pc, Handler: s}
	s.tcp = &dns.Server{Listener: l, Handler: s}
	started := make(chan struct{}, 2)
	s.udp.NotifyStartedFunc = func() { started <- struct{}{} }
	s.tcp.NotifyStartedFunc = func() { started <- struct{}{} }
	go s.udp.ActivateAndServe()
	go s.tcp.ActivateAndServe()
	<-started
	<-started
	return s, nil
}

// listenBoth takes a free UDP port and the same TCP port; another process
// may hold that TCP port, so it tries a few UDP ports.
func listenBoth() (net.PacketConn, net.Listener, error) {
	var last error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return nil, nil, err
		}
		l, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, l, nil
		}
		pc.Close()
		last = err
	}
	return nil, nil, last
}

// Close stops the server and lets held queries go (unanswered).
func (s *Server) Close() {
	s.Release()
	_ = s.udp.Shutdown()
	_ = s.tcp.Shutdown()
}

// SetDelay makes every answer wait d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// SetTTL sets the TTL of the answers (and of the SOA of negative ones).
func (s *Server) SetTTL(ttl uint32) {
	s.mu.Lock()
	s.ttl = ttl
	s.mu.Unlock()
}

// TXT publishes TXT records for name.
func (s *Server) TXT(name string, values ...string) {
	s.mu.Lock()
	s.txt[dns.Fqdn(strings.ToLower(name))] = values
	s.mu.Unlock()
}

// MX publishes an MX record for name (repeat for several).
func (s *Server) MX(name, host string, pref uint16) {
	s.mu.Lock()
	n := dns.Fqdn(strings.ToLower(name))
	s.mx[n] = append(s.mx[n], &dns.MX{Hdr: dns.RR_Header{Name: n, Rrtype: dns.TypeMX, Class: dns.ClassINET},
		Preference: pref, Mx: dns.Fqdn(host)})
	s.mu.Unlock()
}

// IP publishes A (IPv4) and AAAA (IPv6) records for name.
func (s *Server) IP(name string, ips ...string) {
	s.mu.Lock()
	n := dns.Fqdn(strings.ToLower(name))
	for _, ip := range ips {
		s.addrs[n] = append(s.addrs[n], net.ParseIP(ip))
	}
	s.mu.Unlock()
}

// Hold makes the queries for names that match wait until Release.
func (s *Server) Hold(match func(name string) bool) {
	s.mu.Lock()
	s.hold = match
	s.release = make(chan struct{})
	s.mu.Unlock()
}

// Release answers the held queries, and the later ones at once.
func (s *Server) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = nil
	select {
	case <-s.release:
	default:
		close(s.release)
	}
}

// Queries is how many queries name (any type) received.
func (s *Server) Queries(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[dns.Fqdn(strings.ToLower(name))]
}

// Sources is how many client addresses (host:port, UDP or TCP) the
// queries came from: the sockets the client used.
func (s *Server) Sources() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sources)
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	if len(r.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(r, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := r.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	s.queries[name]++
	s.sources[w.RemoteAddr().Network()+" "+w.RemoteAddr().String()] = true
	delay := s.delay
	var wait chan struct{}
	if s.hold != nil && s.hold(strings.TrimSuffix(name, ".")) {
		wait = s.release
	}
	s.mu.Unlock()
	if wait != nil {
		<-wait
	}
	if delay > 0 {
		time.Sleep(delay) // the simulated network: the point of this server
	}
	s.mu.Lock()
	txt, ok := s.txt[name] // as published now, after any hold
	mxs, hasMX := s.mx[name]
	ips, hasIP := s.addrs[name]
	ok = ok || hasMX || hasIP
	ttl := s.ttl
	s.mu.Unlock()
	m := new(dns.Msg)
	m.SetReply(r)
	m.Authoritative = true
	switch {
	case ok && q.Qtype == dns.TypeTXT:
		for _, v := range txt {
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: split(v)})
		}
	case hasMX && q.Qtype == dns.TypeMX:
		for _, mx := range mxs {
			rr := *mx
			rr.Hdr.Name, rr.Hdr.Ttl = q.Name, ttl
			m.Answer = append(m.Answer, &rr)
		}
	case hasIP && (q.Qtype == dns.TypeA || q.Qtype == dns.TypeAAAA):
		hdr := dns.RR_Header{Name: q.Name, Rrtype: q.Qtype, Class: dns.ClassINET, Ttl: ttl}
		for _, ip := range ips {
			switch {
			case q.Qtype == dns.TypeA && ip.To4() != nil:
				m.Answer = append(m.Answer, &dns.A{Hdr: hdr, A: ip.To4()})
			case q.Qtype == dns.TypeAAAA && ip.To4() == nil:
				m.Answer = append(m.Answer, &dns.AAAA{Hdr: hdr, AAAA: ip})
			}
		}
		if len(m.Answer) == 0 {
			m.Ns = append(m.Ns, soa(q.Name, ttl))
		}
	case ok:
		m.Ns = append(m.Ns, soa(q.Name, ttl)) // the name exists, without this type
	default:
		m.Rcode = dns.RcodeNameError
		m.Ns = append(m.Ns, soa(q.Name, ttl))
	}
	_ = w.WriteMsg(m)
}

func soa(name string, ttl uint32) dns.RR {
	return &dns.SOA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: ttl},
		Ns: "ns.test.", Mbox: "hostmaster.test.", Serial: 1, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: ttl}
}

// split cuts a TXT value into the 255-byte strings DNS carries.
func split(v string) []string {
	var out []string
	for len(v) > 255 {
		out = append(out, v[:255])
		v = v[255:]
	}
	return append(out, v)
}
