package main

import (
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/miekg/dns"
)

// countingServer is a real go-smtp server that accepts every message and
// counts them.
type countingServer struct {
	mu  sync.Mutex
	ids []string
}

func (s *countingServer) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &countingSession{s}, nil
}

type countingSession struct{ s *countingServer }

func (c *countingSession) Mail(string, *smtp.MailOptions) error { return nil }
func (c *countingSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (c *countingSession) Reset()                               {}
func (c *countingSession) Logout() error                        { return nil }
func (c *countingSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, rest, _ := strings.Cut(string(b), "Message-ID: ")
	id, _, _ := strings.Cut(rest, "\r\n")
	c.s.mu.Lock()
	c.s.ids = append(c.s.ids, id)
	c.s.mu.Unlock()
	return nil
}

// The load of `bench pipeline` in its child process: the parent learns
// the DNS address, sends, and gets back every email answered 250 with
// its time; the DNS server answers until the parent closes stdin.
func TestBenchPipelineLoadProtocol(t *testing.T) {
	srv := &countingServer{}
	s := smtp.NewServer(srv)
	s.Domain = "sink.test"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(l)
	t.Cleanup(func() { s.Close() })

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := runBenchPipelineLoad(inR, outW, benchPipeOpts{messages: 25, sessions: 3, delay: time.Millisecond})
		outW.CloseWithError(err)
		done <- err
	}()
	load, err := newChildLoad(inW, outR, func() error { return <-done }, 25)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := net.SplitHostPort(load.DNSAddr()); err != nil {
		t.Fatalf("DNS address %q: %v", load.DNSAddr(), err)
	}
	before := time.Now()
	accepted, first, failed, err := load.Send(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if len(accepted) != 25 || failed != 0 {
		t.Errorf("%d accepted, %d failed; want 25, 0", len(accepted), failed)
	}
	srv.mu.Lock()
	if len(srv.ids) != 25 {
		t.Errorf("the server took %d messages, want 25", len(srv.ids))
	}
	for _, id := range srv.ids {
		if _, ok := accepted[id]; !ok {
			t.Errorf("the server took %s, the load did not report it", id)
		}
	}
	srv.mu.Unlock()
	if first.Before(before.Add(-time.Second)) || first.After(time.Now()) {
		t.Errorf("first 250 at %v, not during the send (%v)", first, before)
	}
	// The DNS server still answers after the send (the pipeline looks up
	// senders after their 250s), until the parent closes.
	q := new(dns.Msg).SetQuestion("example.org.", dns.TypeTXT)
	if _, err := dns.Exchange(q, load.DNSAddr()); err != nil {
		t.Errorf("DNS server gone after the send: %v", err)
	}
	if err := load.Close(); err != nil {
		t.Errorf("child ended with %v", err)
	}
}

// `bench pipeline --nodes 2` hands the load two addresses: the sessions
// are split over them, and every email is reported whichever took it.
func TestBenchSendSplitsSessionsOverNodes(t *testing.T) {
	var srvs [2]*countingServer
	var addrs []string
	for i := range srvs {
		srvs[i] = &countingServer{}
		s := smtp.NewServer(srvs[i])
		s.Domain = "sink.test"
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(l)
		t.Cleanup(func() { s.Close() })
		addrs = append(addrs, l.Addr().String())
	}
	accepted, _, failed, err := benchSend(strings.Join(addrs, ","), benchPipeOpts{messages: 40, sessions: 4})
	if err != nil || failed != 0 || len(accepted) != 40 {
		t.Fatalf("%d accepted, %d failed, %v; want 40, 0", len(accepted), failed, err)
	}
	total := 0
	for i, s := range srvs {
		s.mu.Lock()
		n := len(s.ids)
		s.mu.Unlock()
		if n == 0 {
			t.Errorf("node %d took no email", i+1)
		}
		total += n
	}
	if total != 40 {
		t.Errorf("the nodes took %d emails, want 40", total)
	}
}

// procCPU reads the user and system ticks of /proc/PID/stat, whose
// second field (the command) may hold spaces and parentheses.
// The test first spends at least 300 ms of CPU (counted by getrusage, no
// clock), so that a reading of 0, or of another field, shows.
func TestProcCPUOfThisProcess(t *testing.T) {
	used := func() time.Duration {
		u, s, err := cpuTime()
		if err != nil {
			t.Fatal(err)
		}
		return u + s
	}
	var sink uint64
	for used() < 300*time.Millisecond {
		for i := range 1 << 20 {
			sink = sink*31 + uint64(i)
		}
	}
	_ = sink
	before := used()
	c, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	after := used()
	// /proc counts whole ticks (10 ms): a reading may lag getrusage's by
	// up to a tick for each of user and system time.
	if tick := 10 * time.Millisecond; c < before-2*tick || c > after+2*tick {
		t.Errorf("procCPU %v, getrusage %v to %v", c, before, after)
	}
}
