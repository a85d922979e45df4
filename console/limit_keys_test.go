package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// tryLogin posts one login from ip straight to the handler.
func (f *fixture) tryLogin(ctx context.Context, ip, user, pw string) int {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/login", strings.NewReader(url.Values{"user": {user}, "password": {pw}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = ip
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code
}

// Issue 21 review: the addresses of one IPv6 /64 are one client for the
// login limit, as for httplimit's connection caps.
func TestLoginLimitCountsIPv6By64(t *testing.T) {
	f := newFixture(t)
	for i := range DefaultIPLimit.Burst {
		if code := f.tryLogin(context.Background(), fmt.Sprintf("[2001:db8:1:2::%x]:40000", i+1), "alice", "wrong password"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	if code := f.tryLogin(context.Background(), "[2001:db8:1:2:ffff:ffff:ffff:ffff]:40000", "victor", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("another address of the same /64: %d, want 429", code)
	}
	if code := f.tryLogin(context.Background(), "[2001:db8:1:3::1]:40000", "victor", testPassword); code != http.StatusSeeOther {
		t.Errorf("another /64: %d, want a login", code)
	}
	if clientKey("::ffff:192.0.2.7") != "192.0.2.7" || clientKey("fe80::1%eth0") != "fe80::/64" || clientKey("local") != "local" {
		t.Errorf("keys %q %q %q", clientKey("::ffff:192.0.2.7"), clientKey("fe80::1%eth0"), clientKey("local"))
	}
}

// Invented names do not each get an account bucket: they share
// UnknownNameBuckets buckets, so however many are tried the table cannot
// fill (before, one each, until MaxLimiterKeys filled it and every new
// account was refused). An unknown name is limited like a known one, and
// real accounts keep their own buckets.
func TestInventedNamesDoNotFillTheAccountTable(t *testing.T) {
	f := newFixture(t)
	const clients, perClient = 12, 5
	for c := range clients {
		for n := range perClient {
			ip := fmt.Sprintf("10.0.%d.1:40000", c)
			if code := f.tryLogin(context.Background(), ip, fmt.Sprintf("invented-%d-%d", c, n), "wrong password"); code != http.StatusUnauthorized {
				t.Fatalf("attempt %d/%d: %d", c, n, code)
			}
		}
	}
	f.s.accountLimits.mu.Lock()
	for k := range f.s.accountLimits.keys {
		if !strings.HasPrefix(k, "unknown ") {
			t.Errorf("account key %q for an invented name", k)
		}
	}
	f.s.accountLimits.mu.Unlock()
	// Every name there is lands in one of the buckets.
	buckets := map[string]bool{}
	for i := range 20 * UnknownNameBuckets {
		buckets[f.s.accountKeys.key(fmt.Sprintf("name%d", i), false)] = true
	}
	if len(buckets) > UnknownNameBuckets {
		t.Errorf("%d buckets for unknown names, want at most %d", len(buckets), UnknownNameBuckets)
	}
	if code := f.tryLogin(context.Background(), "192.0.2.50:40000", "alice", testPassword); code != http.StatusSeeOther {
		t.Errorf("a real account after the flood: %d, want a login", code)
	}
	// One unknown name guessed at from many addresses runs out like an account.
	for i := range DefaultAccountLimit.Burst {
		f.tryLogin(context.Background(), fmt.Sprintf("198.51.100.%d:40000", i+1), "nosuchname", "wrong password")
	}
	if code := f.tryLogin(context.Background(), "203.0.113.9:40000", "nosuchname", "wrong password"); code != http.StatusTooManyRequests {
		t.Errorf("an unknown name over its limit: %d, want 429", code)
	}
}

// A login whose client goes away while waiting for a password check
// spends its try, and the journal says so.
func TestAbandonedLoginIsJournaled(t *testing.T) {
	f := newFixture(t)
	for range MaxConcurrentLogins { // every check slot busy
		f.s.verifying <- struct{}{}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- f.tryLogin(ctx, "192.0.2.8:40000", "alice", "a guess") }()
	cancel()
	<-done
	for range MaxConcurrentLogins {
		<-f.s.verifying
	}
	if !f.hasAudit("alice", "login.abandoned", "alice") {
		t.Fatalf("no login.abandoned in the journal: %+v", f.audits())
	}
	for i := range DefaultIPLimit.Burst - 1 {
		f.tryLogin(context.Background(), "192.0.2.8:40000", "victor", fmt.Sprintf("wrong %d", i))
	}
	if code := f.tryLogin(context.Background(), "192.0.2.8:40000", "victor", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("after the abandoned try and %d failures: %d, want 429", DefaultIPLimit.Burst-1, code)
	}
}
