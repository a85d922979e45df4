package httpapi

import (
	"net/http"
	"testing"
)

func TestCORS(t *testing.T) {
	const app = "https://app.example.test"
	a := newMessagingAPI(t, withPersonTokens, func(s *Server) { s.CORSOrigins = []string{app} })
	a.helpdesk()
	send := func(method, path, origin string, hdr ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, a.srv.URL+path, nil)
		req.Header.Set("Origin", origin)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := a.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	preflight := func(path, origin string) *http.Response {
		return send("OPTIONS", path, origin, "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization,content-type")
	}
	for _, tc := range []struct {
		name, path, origin string
		code               int
		allow              string
	}{
		{"seen from the app", "/v1/seen", app, 204, app},
		{"the inbox from the app", "/v1/people/agent/notifications", app, 204, app},
		{"client.js from the app", "/v1/client.js", app, 204, app},
		{"seen from another site", "/v1/seen", "https://evil.test", 403, ""},
		{"an API-token route from the app", "/v1/people/agent", app, 403, ""},
		{"token minting from the app", "/v1/people/agent/tokens", app, 403, ""},
	} {
		t.Run("preflight: "+tc.name, func(t *testing.T) {
			resp := preflight(tc.path, tc.origin)
			if resp.StatusCode != tc.code || resp.Header.Get("Access-Control-Allow-Origin") != tc.allow {
				t.Fatalf("%d allow-origin %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
			}
			if tc.code == 204 && (resp.Header.Get("Access-Control-Allow-Headers") != corsHeaders || resp.Header.Get("Access-Control-Allow-Credentials") != "") {
				t.Fatalf("headers %v", resp.Header)
			}
		})
	}
	t.Run("a request from the app names it, and never allows credentials", func(t *testing.T) {
		resp := send("GET", "/v1/people/agent/notifications", app, "Authorization", "Bearer "+a.mintFor("agent"))
		if resp.StatusCode != 200 || resp.Header.Get("Access-Control-Allow-Origin") != app || resp.Header.Get("Access-Control-Allow-Credentials") != "" {
			t.Fatalf("%d %v", resp.StatusCode, resp.Header)
		}
	})
	t.Run("nothing is allowed by default", func(t *testing.T) {
		a.s.CORSOrigins = nil
		if resp := preflight("/v1/seen", app); resp.StatusCode != 403 {
			t.Fatalf("%d", resp.StatusCode)
		}
	})
}
