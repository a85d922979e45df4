package mta

import (
	"context"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/auth/dnstest"
)

// Direct delivery asks the daemon's shared caching resolver: the MX order,
// and the implicit MX of a domain without one (RFC 5321 section 5.1),
// hold through it.
func TestMXThroughTheSharedResolver(t *testing.T) {
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.MX("dest.test", "mx2.dest.test", 20)
	srv.MX("dest.test", "mx1.dest.test", 10)
	res, err := auth.NewDNS(srv.Addr, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &MX{Resolver: res}
	hosts, err := m.hosts(context.Background(), "dest.test")
	if err != nil || strings.Join(hosts, " ") != "mx1.dest.test mx2.dest.test" {
		t.Errorf("hosts = %v %v", hosts, err)
	}
	hosts, err = m.hosts(context.Background(), "nomx.test")
	if err != nil || strings.Join(hosts, " ") != "nomx.test" {
		t.Errorf("implicit MX: %v %v", hosts, err)
	}
	m.hosts(context.Background(), "dest.test")
	if n := srv.Queries("dest.test"); n != 1 {
		t.Errorf("%d MX queries for dest.test, want 1 (cached)", n)
	}
}
