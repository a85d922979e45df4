package auth

import (
	"context"
	"testing"

	"github.com/deskmail/deskmail/internal/gocount"
)

// TestDNSQueryRunsOnAKeptGoroutine: a query not in the cache runs on a
// goroutine kept from an earlier one (internal/keptgo), not on one
// started for it, whose stack grew by copying while it read the answer
// (singleflight's DoChan started one per query).
func TestDNSQueryRunsOnAKeptGoroutine(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.TXT("a.test", "v=spf1 -all")
	srv.TXT("b.test", "v=spf1 -all")
	if _, err := d.LookupTXT(context.Background(), "a.test"); err != nil {
		t.Fatal(err)
	}
	var started uint64
	for range 5 { // the first goroutine may not wait yet when the next query starts
		before := gocount.Created()
		d.Cache = NewDNSCache(0, nil)
		if got, err := d.LookupTXT(context.Background(), "b.test"); err != nil || len(got) != 1 {
			t.Fatalf("TXT = %v %v", got, err)
		}
		if started = gocount.Created() - before; started <= 1 {
			break
		}
	}
	// The test's DNS server, in this process, starts one for each query
	// it answers.
	if started > 1 {
		t.Errorf("a query started %d goroutines, want the test server's one only (the query's on a kept one)", started)
	}
}

// TestCheckRunsOnKeptGoroutines: an email's SPF and DMARC checks (run
// side by side) and their queries start no goroutine once kept ones
// wait, but the test DNS server's.
func TestCheckRunsOnKeptGoroutines(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	c := &Checker{Resolver: d}
	var started, queries uint64
	for i := range 8 { // the goroutines may not wait yet when the next check starts
		dom := string(rune('a'+i)) + ".test"
		answered := func() uint64 { return uint64(srv.Queries(dom) + srv.Queries("_dmarc."+dom)) }
		q0 := answered()
		before := gocount.Created()
		r := c.Check(context.Background(), Input{RemoteIP: "192.0.2.1", MailFrom: "x@" + dom,
			Raw: []byte("From: x@" + dom + "\r\n\r\nhi\r\n")})
		if r.SPF != "none" {
			t.Fatalf("%s", r)
		}
		started, queries = gocount.Created()-before, answered()-q0
		if started <= queries {
			break
		}
	}
	if started > queries {
		t.Errorf("a check started %d goroutines for %d queries the test server answered, want no more", started, queries)
	}
}
