package auth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/deskmail/deskmail/internal/waitfor"
)

// Lookups one after another share one UDP socket: the server sees one
// source port for many queries.
func TestDNSReusesUDPSocket(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	for i := range 20 {
		name := fmt.Sprintf("n%d.test", i)
		srv.TXT(name, "v")
		if got, err := d.LookupTXT(context.Background(), name); err != nil || len(got) != 1 {
			t.Fatalf("%s: %v %v", name, got, err)
		}
		d.LookupTXT(context.Background(), "_dmarc."+name) // NXDOMAIN
	}
	if n := srv.Sources(); n != 1 {
		t.Errorf("40 queries came from %d sockets, want 1", n)
	}
}

// A socket is retired after UDPSocketQueries queries: the source port
// changes.
func TestDNSRetiresUDPSocketAfterItsQueries(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	for i := range 2*UDPSocketQueries + 1 {
		d.LookupTXT(context.Background(), fmt.Sprintf("r%d.test", i))
	}
	if n := srv.Sources(); n != 3 {
		t.Errorf("%d queries came from %d sockets, want 3", 2*UDPSocketQueries+1, n)
	}
}

// A query that timed out leaves its socket closed: its late answer can
// never be read as another query's. Lookups at the same time as a held
// one are answered on other sockets.
func TestDNSTimedOutSocketIsNotReused(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	d.Timeout = 2 * time.Second
	srv.TXT("fast.test", "fast")
	srv.TXT("slow.test", "slow")
	d.LookupTXT(context.Background(), "fast.test")
	srv.Hold(func(n string) bool { return n == "slow.test" })
	defer srv.Release()
	done := make(chan error, 1)
	go func() {
		_, err := d.LookupTXT(context.Background(), "slow.test")
		done <- err
	}()
	waitfor.Until(t, 10*time.Second, "the held query reached the server", func() bool { return srv.Queries("slow.test") > 0 })
	for i := range 3 {
		name := fmt.Sprintf("other%d.test", i)
		srv.TXT(name, name)
		if got, err := d.LookupTXT(context.Background(), name); err != nil || len(got) != 1 || got[0] != name {
			t.Fatalf("%s while another query is held: %v %v", name, got, err)
		}
	}
	err := <-done
	var de *net.DNSError
	if !errors.As(err, &de) || !de.Temporary() || !de.IsTimeout || de.IsNotFound {
		t.Fatalf("held lookup: %v, want a temporary timeout DNSError", err)
	}
	p := d.pool(srv.Addr)
	p.mu.Lock()
	idle := len(p.idle)
	p.mu.Unlock()
	if idle != 1 {
		t.Errorf("%d idle sockets after a timeout, want 1 (the timed-out socket closed)", idle)
	}
	srv.Release() // the held query's answer goes to a closed socket
	if got, err := d.LookupTXT(context.Background(), "slow.test"); err != nil || len(got) != 1 || got[0] != "slow" {
		t.Errorf("slow.test after release: %v %v", got, err)
	}
	if n := srv.Queries("slow.test"); n != 2 {
		t.Errorf("slow.test asked %d times, want 2 (the timeout not cached)", n)
	}
}

// fakeDNS answers each query with what answers returns for it (several
// packets, in order): a server that misbehaves on purpose.
func fakeDNS(t *testing.T, answers func(q *dns.Msg) []*dns.Msg) (addr string, queries func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var mu sync.Mutex
	n := 0
	go func() {
		buf := make([]byte, 2048)
		for {
			k, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := new(dns.Msg)
			if q.Unpack(buf[:k]) != nil {
				continue
			}
			mu.Lock()
			n++
			mu.Unlock()
			for _, a := range answers(q) {
				p, err := a.Pack()
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = pc.WriteTo(p, from)
			}
		}
	}()
	return pc.LocalAddr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

func txtAnswer(q *dns.Msg, name, value string) *dns.Msg {
	m := new(dns.Msg)
	m.SetReply(q)
	m.Question[0].Name = name
	m.Answer = []dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: []string{value}}}
	return m
}

// Answers with another ID, or with the query's ID and another question,
// are skipped (a late answer to an earlier query, or a forgery); the
// right one, with the name in another case (0x20), is taken.
func TestDNSSkipsAnswersToAnotherQuestion(t *testing.T) {
	addr, _ := fakeDNS(t, func(q *dns.Msg) []*dns.Msg {
		other := txtAnswer(q, "good.test.", "wrong id")
		other.Id = q.Id + 1
		forged := txtAnswer(q, "evil.test.", "wrong question")
		return []*dns.Msg{other, forged, txtAnswer(q, "GOOD.test.", "right")}
	})
	d, err := NewDNS(addr, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	got, err := d.LookupTXT(context.Background(), "good.test")
	if err != nil || len(got) != 1 || got[0] != "right" {
		t.Errorf("TXT = %v %v, want the answer to the question asked", got, err)
	}
}

// SERVFAIL, and a REFUSED header without the question, are temporary
// errors, never cached: the next lookup asks again.
func TestDNSServerFailuresAreTemporaryAndNotCached(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer func(q *dns.Msg) *dns.Msg
	}{
		{"SERVFAIL", func(q *dns.Msg) *dns.Msg { return new(dns.Msg).SetRcode(q, dns.RcodeServerFailure) }},
		{"REFUSED header alone", func(q *dns.Msg) *dns.Msg {
			m := new(dns.Msg).SetRcode(q, dns.RcodeRefused)
			m.Question = nil
			return m
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, queries := fakeDNS(t, func(q *dns.Msg) []*dns.Msg { return []*dns.Msg{tc.answer(q)} })
			d, err := NewDNS(addr, 0, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			// A header not taken for an answer would make the lookup
			// wait out the query's timeout, past this test's bound.
			d.Timeout = 10 * time.Second
			start := time.Now()
			for range 2 {
				_, err := d.LookupTXT(context.Background(), "fail.test")
				var de *net.DNSError
				if !errors.As(err, &de) || !de.IsTemporary || de.IsNotFound {
					t.Fatalf("lookup: %v, want a temporary DNSError", err)
				}
			}
			if n := queries(); n != 2 {
				t.Errorf("%d queries for two lookups, want 2 (failures not cached)", n)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("the failure took %s: the answer was not read as one", el)
			}
		})
	}
}
