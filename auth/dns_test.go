package auth

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/auth/dnstest"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/waitfor"
)

func dnsFixture(t *testing.T, size int) (*dnstest.Server, *DNS, *clock.Fake) {
	t.Helper()
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	clk := clock.NewFake(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	d, err := NewDNS(srv.Addr, size, clk)
	if err != nil {
		t.Fatal(err)
	}
	return srv, d, clk
}

func TestDNSCachesPositiveAndNegativeAnswers(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.TXT("a.test", "v=spf1 -all")
	for range 3 {
		got, err := d.LookupTXT(context.Background(), "A.test.")
		if err != nil || len(got) != 1 || got[0] != "v=spf1 -all" {
			t.Fatalf("TXT = %v %v", got, err)
		}
	}
	if n := srv.Queries("a.test"); n != 1 {
		t.Errorf("%d queries for a cached name, want 1", n)
	}
	for range 3 {
		_, err := d.LookupTXT(context.Background(), "missing.test")
		var de *net.DNSError
		if !errors.As(err, &de) || !de.IsNotFound {
			t.Fatalf("missing name: %v, want a not-found DNSError", err)
		}
	}
	if n := srv.Queries("missing.test"); n != 1 {
		t.Errorf("%d queries for a cached NXDOMAIN, want 1", n)
	}
	// A name that exists without the asked type is not-found too (what
	// SPF and DMARC read as "no record").
	if _, err := d.LookupMX(context.Background(), "a.test"); !isNotFound(err) {
		t.Errorf("MX of a TXT-only name: %v", err)
	}
}

func TestDNSCacheHonoursTTLWithACap(t *testing.T) {
	srv, d, clk := dnsFixture(t, 0)
	srv.SetTTL(30)
	srv.TXT("short.test", "x")
	d.LookupTXT(context.Background(), "short.test")
	clk.Advance(29 * time.Second)
	d.LookupTXT(context.Background(), "short.test")
	if n := srv.Queries("short.test"); n != 1 {
		t.Fatalf("asked again within the TTL: %d queries", n)
	}
	clk.Advance(2 * time.Second)
	d.LookupTXT(context.Background(), "short.test")
	if n := srv.Queries("short.test"); n != 2 {
		t.Errorf("not asked again after the TTL: %d queries", n)
	}

	srv.SetTTL(7 * 86400)
	srv.TXT("long.test", "y")
	d.LookupTXT(context.Background(), "long.test")
	clk.Advance(MaxTTL + time.Second)
	d.LookupTXT(context.Background(), "long.test")
	if n := srv.Queries("long.test"); n != 2 {
		t.Errorf("a week's TTL was not capped at %s: %d queries", MaxTTL, n)
	}
	// Negative answers: the SOA says a week, the cap is MaxNegativeTTL.
	d.LookupTXT(context.Background(), "nx.test")
	clk.Advance(MaxNegativeTTL + time.Second)
	d.LookupTXT(context.Background(), "nx.test")
	if n := srv.Queries("nx.test"); n != 2 {
		t.Errorf("negative answer kept past %s: %d queries", MaxNegativeTTL, n)
	}
}

func TestDNSCacheIsBounded(t *testing.T) {
	srv, d, _ := dnsFixture(t, 2)
	for _, n := range []string{"a.test", "b.test", "c.test"} {
		srv.TXT(n, n)
		d.LookupTXT(context.Background(), n)
	}
	if d.Cache.Len() != 2 {
		t.Errorf("cache holds %d entries, bound 2", d.Cache.Len())
	}
	d.LookupTXT(context.Background(), "a.test") // the least recently used went out
	if n := srv.Queries("a.test"); n != 2 {
		t.Errorf("a.test asked %d times, want 2 (evicted)", n)
	}
}

func TestDNSTemporaryFailuresAreNotCachedAndRespectTheBudget(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.Hold(func(string) bool { return true })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := d.LookupTXT(ctx, "slow.test")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.Temporary() || de.IsNotFound {
		t.Fatalf("held lookup: %v, want a temporary DNSError", err)
	}
	srv.TXT("slow.test", "now")
	srv.Release()
	// The timed-out caller's failure was not cached: the next lookup gets
	// the answer (the shared query's, or a new one).
	got, err := d.LookupTXT(context.Background(), "slow.test")
	if err != nil || len(got) != 1 {
		t.Errorf("after release: %v %v", got, err)
	}
}

func TestDNSConcurrentLookupsShareOneQuery(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.TXT("busy.test", "v")
	srv.Hold(func(n string) bool { return n == "busy.test" })
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.LookupTXT(context.Background(), "busy.test"); err != nil {
				t.Error(err)
			}
		}()
	}
	defer srv.Release() // a failed wait lets the held lookups go
	waitfor.Until(t, 10*time.Second, "a query reached the DNS server", func() bool { return srv.Queries("busy.test") > 0 })
	srv.Release()
	wg.Wait()
	if n := srv.Queries("busy.test"); n != 1 {
		t.Errorf("%d queries for 8 simultaneous lookups, want 1", n)
	}
}

// The checks of one email stop at their budget: what DNS did not answer
// is a temperror, and the email goes on.
func TestCheckerBudgetMakesTemperror(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.Hold(func(string) bool { return true })
	c := &Checker{Resolver: d, Budget: 100 * time.Millisecond}
	raw := "From: ann@slow.test\r\nSubject: hi\r\n\r\nbody\r\n"
	res := c.Check(context.Background(), Input{RemoteIP: "192.0.2.1", Helo: "mx.slow.test", MailFrom: "ann@slow.test", Raw: []byte(raw)})
	if res.SPF != "temperror" || res.DMARC != "temperror" {
		t.Errorf("result %s; want spf and dmarc temperror", res)
	}
	if !strings.Contains(strings.Join(res.Notes, " "), "DMARC") {
		t.Errorf("notes %v do not say why", res.Notes)
	}
}

// The outbound MX lookups go through the same resolver and cache.
func TestDNSLookupMXSortedAndCached(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.MX("dest.test", "mx2.dest.test", 20)
	srv.MX("dest.test", "mx1.dest.test", 10)
	for range 2 {
		mxs, err := d.LookupMX(context.Background(), "dest.test")
		if err != nil || len(mxs) != 2 || mxs[0].Host != "mx1.dest.test." || mxs[1].Pref != 20 {
			t.Fatalf("MX = %+v %v", mxs, err)
		}
	}
	if n := srv.Queries("dest.test"); n != 1 {
		t.Errorf("%d MX queries, want 1 (cached)", n)
	}
	if _, err := d.LookupMX(context.Background(), "nomx.test"); !isNotFound(err) {
		t.Errorf("MX of a missing domain: %v, want not-found (the implicit MX rule needs it)", err)
	}
}

// A lookup that missed the cache just as another's query for the name
// ended (cached, gone from the shared flight) is answered by the cache,
// not by a second query: the gap TestDNSConcurrentLookupsShareOneQuery
// fell into on a loaded machine.
func TestDNSLookupThatMissedAsTheQueryEndedAsksNoMore(t *testing.T) {
	srv, d, _ := dnsFixture(t, 0)
	srv.TXT("late.test", "v")
	missed := make(chan struct{})
	goOn := make(chan struct{})
	var first atomic.Bool
	d.afterMiss = func() {
		if first.CompareAndSwap(false, true) { // the first lookup only: it stops after its miss
			close(missed)
			<-goOn
		}
	}
	late := make(chan error, 1)
	go func() {
		_, err := d.LookupTXT(context.Background(), "late.test")
		late <- err
	}()
	<-missed
	// The second lookup misses too (nothing cached yet), asks, caches
	// and leaves the flight while the first still waits after its miss.
	if _, err := d.LookupTXT(context.Background(), "late.test"); err != nil {
		t.Fatal(err)
	}
	close(goOn)
	if err := <-late; err != nil {
		t.Fatal(err)
	}
	if n := srv.Queries("late.test"); n != 1 {
		t.Errorf("%d queries, want 1: the late lookup should have found the answer cached", n)
	}
}
