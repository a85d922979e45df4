package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/persontoken"
)

// routeRecorder is a router that keeps the patterns registered on it.
type routeRecorder struct{ patterns []string }

func (r *routeRecorder) Handle(p string, _ http.Handler) { r.patterns = append(r.patterns, p) }
func (r *routeRecorder) HandleFunc(p string, _ func(http.ResponseWriter, *http.Request)) {
	r.patterns = append(r.patterns, p)
}

// registeredRoutes are the "METHOD /path" patterns of the HTTP listener.
func registeredRoutes(s *Server) []string {
	var rec routeRecorder
	s.routes(&rec, false)
	sort.Strings(rec.patterns)
	return rec.patterns
}

func withPersonTokens(s *Server) {
	s.PersonTokens = &persontoken.Keyring{Secret: []byte("a test secret of thirty-two bytes"), Clock: clock.Real{}}
}

// mintFor asks the API for a person token.
func (a *api) mintFor(person string) string {
	a.t.Helper()
	m := a.must(201, "POST", "/v1/people/"+person+"/tokens", map[string]any{"ttl": "1h"})
	tok, _ := m["token"].(string)
	if !strings.HasPrefix(tok, persontoken.Prefix) {
		a.t.Fatalf("minted %v", m)
	}
	return tok
}

// personAllowed are the routes a person token may use, for its own person.
var personAllowed = map[string]bool{
	"GET /v1/people/{id}/notifications":        true,
	"GET /v1/people/{id}/notifications/stream": true,
	"POST /v1/seen": true,
}

// public routes answer without any token.
var public = map[string]bool{
	"GET /healthz": true, "GET /livez": true, "GET /readyz": true,
	"GET /v1/openapi.json": true, "GET /v1/client.js": true,
}

// TestPersonTokenOnEveryRoute sends agent's person token to every route
// the server registers: the three browser routes answer for agent and
// refuse ann (403); every other route refuses it (403, a JSON error that
// says why). A route added later is covered without editing this test.
func TestPersonTokenOnEveryRoute(t *testing.T) {
	a := newMessagingAPI(t, withPersonTokens, func(s *Server) { s.StreamHeartbeat = time.Hour })
	a.helpdesk()
	msg := a.post("c1", "ann", "hello")
	tok := a.mintFor("agent")
	for _, route := range registeredRoutes(a.s) {
		if public[route] {
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		for _, who := range []string{"agent", "ann"} {
			p := strings.NewReplacer("{id}", who, "{name}", "welcome").Replace(path)
			var body any
			if route == "POST /v1/seen" {
				body = map[string]any{"person": who, "conversation": "c1", "up_to": msg}
			}
			if strings.HasSuffix(path, "/stream") && who == "agent" {
				continue // a stream never ends: TestPersonTokenStream
			}
			t.Run(route+" as "+who, func(t *testing.T) {
				resp, m := a.callTok(method, p, tok, body)
				mayUse := personAllowed[route] && who == "agent"
				switch {
				case mayUse && resp.StatusCode != 200:
					t.Fatalf("%s %s: %d %v, want 200", method, p, resp.StatusCode, m)
				case !mayUse && resp.StatusCode != 403:
					t.Fatalf("%s %s: %d %v, want 403", method, p, resp.StatusCode, m)
				case !mayUse && !strings.Contains(m["error"].(string), "person token"):
					t.Fatalf("%s %s: the error does not say why: %v", method, p, m)
				}
			})
		}
	}
}

func TestPersonTokenRules(t *testing.T) {
	a := newMessagingAPI(t, withPersonTokens)
	a.helpdesk()
	msg := a.post("c1", "ann", "hello")
	tok := a.mintFor("agent")

	t.Run("seen-ack for itself marks, for another person is 403", func(t *testing.T) {
		resp, m := a.callTok("POST", "/v1/seen", tok, map[string]any{"person": "agent", "conversation": "c1", "up_to": msg})
		if resp.StatusCode != 200 || len(list(m["marked"])) != 1 {
			t.Fatalf("own ack: %d %v", resp.StatusCode, m)
		}
		resp, m = a.callTok("POST", "/v1/seen", tok, map[string]any{"person": "boss", "conversation": "c1", "up_to": msg})
		if resp.StatusCode != 403 || m["field"] != "person" {
			t.Fatalf("boss's ack: %d %v", resp.StatusCode, m)
		}
	})
	t.Run("ttl bounds", func(t *testing.T) {
		for _, ttl := range []string{"25h", "10s", "soon", "-1h"} {
			if code, m := a.call("POST", "/v1/people/agent/tokens", map[string]any{"ttl": ttl}); code != 400 || m["field"] != "ttl" {
				t.Errorf("ttl %q: %d %v", ttl, code, m)
			}
		}
		if code, m := a.call("POST", "/v1/people/nobody/tokens", map[string]any{}); code != 404 {
			t.Errorf("unknown person: %d %v", code, m)
		}
		if code, m := a.call("POST", "/v1/people/agent/tokens", nil); code != 201 {
			t.Errorf("no body (default ttl): %d %v", code, m)
		}
	})
	t.Run("a tampered token is 401", func(t *testing.T) {
		bad := tok[:len(tok)-2] + "xx"
		if resp, m := a.callTok("GET", "/v1/people/agent/notifications", bad, nil); resp.StatusCode != 401 || !strings.Contains(m["error"].(string), "person token") {
			t.Fatalf("%d %v", resp.StatusCode, m)
		}
	})
	t.Run("the query parameter is taken on the stream only, and never the API token", func(t *testing.T) {
		resp, _ := a.callTok("GET", "/v1/people/agent/notifications?access_token="+tok, "", nil)
		if resp.StatusCode != 401 {
			t.Errorf("inbox with a query token: %d", resp.StatusCode)
		}
		resp, _ = a.callTok("GET", "/v1/people/agent/notifications/stream?access_token="+token, "", nil)
		if resp.StatusCode != 401 {
			t.Errorf("stream with the API token in the query: %d", resp.StatusCode)
		}
	})
	t.Run("revoked", func(t *testing.T) {
		other := a.mintFor("boss")
		a.must(200, "DELETE", "/v1/people/agent/tokens", nil)
		resp, m := a.callTok("GET", "/v1/people/agent/notifications", tok, nil)
		if resp.StatusCode != 401 || !strings.Contains(m["error"].(string), "revoked") {
			t.Fatalf("after revoke: %d %v", resp.StatusCode, m)
		}
		// POST /v1/seen checks the generation in the ack's own read: a
		// revoked token marks nothing, whatever the ack names.
		unseen := a.post("c1", "ann", "after the revoke")
		for _, conv := range []string{"c1", "no-such-conversation"} {
			resp, m = a.callTok("POST", "/v1/seen", tok, map[string]any{"person": "agent", "conversation": conv, "up_to": unseen})
			if resp.StatusCode != 401 || !strings.Contains(m["error"].(string), "revoked") || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
				t.Fatalf("seen-ack in %s after revoke: %d %v", conv, resp.StatusCode, m)
			}
		}
		if m := a.must(200, "POST", "/v1/seen", map[string]any{"person": "agent", "conversation": "c1", "up_to": unseen}); len(list(m["marked"])) != 1 {
			t.Fatalf("the revoked token's ack marked something: %v", m)
		}
		if resp, _ := a.callTok("GET", "/v1/people/boss/notifications", other, nil); resp.StatusCode != 200 {
			t.Fatalf("boss's token after agent's revoke: %d", resp.StatusCode)
		}
		if resp, _ := a.callTok("GET", "/v1/people/agent/notifications", a.mintFor("agent"), nil); resp.StatusCode != 200 {
			t.Fatalf("a new token after revoke: %d", resp.StatusCode)
		}
	})
}

// TestPersonTokenStream: a browser's EventSource opens the stream with the
// token in the query; the stream ends at the first heartbeat after a
// revocation and at the token's expiry.
func TestPersonTokenStream(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	a := newMessagingAPI(t, withPersonTokens, func(s *Server) {
		s.Clock = clk
		s.PersonTokens.Clock = clk
		s.StreamHeartbeat = 20 * time.Second
	})
	a.helpdesk()
	waiters := func(n int) {
		t.Helper()
		waitfor.Until(t, wait, fmt.Sprintf("the stream waited on the clock (%d waiters)", n), func() bool { return clk.Waiters() >= n })
	}
	// The handler takes a new heartbeat timer each time round its loop
	// and one expiry timer: counting them from a baseline tells when it is
	// parked on the clock. Timers of an ended stream stay pending, so the
	// baseline is taken anew for each stream.
	path := "/v1/people/agent/notifications/stream?access_token="
	base := clk.Waiters()
	c, resp := a.openStreamAt(path+a.mintFor("agent"), "")
	if c == nil {
		t.Fatalf("open: %d", resp.StatusCode)
	}
	c.until(t, ": connected")
	a.post("c1", "ann", "hello")
	c.until(t, "event: notification")
	a.must(200, "DELETE", "/v1/people/agent/tokens", nil)
	waiters(base + 3) // expiry, and a heartbeat before and after the event
	clk.Advance(20 * time.Second)
	c.ended(t)

	// A minute's token: the stream ends as the token does.
	m := a.must(201, "POST", "/v1/people/agent/tokens", map[string]any{"ttl": "1m"})
	base = clk.Waiters()
	c, _ = a.openStreamAt(path+m["token"].(string), "")
	c.until(t, ": connected")
	for range 2 {
		waiters(base + 2) // expiry and heartbeat
		clk.Advance(20 * time.Second)
		c.until(t, ": heartbeat")
	}
	waiters(base + 2)
	clk.Advance(20 * time.Second)
	c.ended(t)
}

// The person token's claims are in the request's context once, with
// whether the handler must still check their generation (personAck
// only).
func TestPersonTokenClaimsInContextOnce(t *testing.T) {
	a := newMessagingAPI(t, withPersonTokens)
	a.helpdesk()
	tok := a.mintFor("agent")
	for _, who := range []access{personRoute, personStream, personAck} {
		var claims, unchecked bool
		var ctx string
		h := a.s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := claimsOf(r)
			claims = ok && c.Person == "agent"
			_, unchecked = generationUnchecked(r)
			ctx = fmt.Sprint(r.Context())
		}), who)
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		h.ServeHTTP(httptest.NewRecorder(), r)
		if !claims || unchecked != (who == personAck) {
			t.Errorf("access %d: claims %v, generation unchecked %v", who, claims, unchecked)
		}
		if n := strings.Count(ctx, "Claims"); n != 1 {
			t.Errorf("access %d: the claims are in the context %d times: %s", who, n, ctx)
		}
	}
}
