package httpapi

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/version"
)

const token = "s3cret-token"

func newAPI(t *testing.T) (*httptest.Server, *store.DB) {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.Real{}
	s := &Server{DB: db, Token: token, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Domains:         inbound.NewDomains([]string{"example.test"}),
		Receiver:        &inbound.Receiver{DB: db, Clock: clk, Hostname: "mx.test", Limits: inbound.Limits{MaxMessageBytes: 2000}},
		MaxMessageBytes: 2000}
	srv := httptest.NewServer(s.Handler(false))
	t.Cleanup(srv.Close)
	return srv, db
}

func do(t *testing.T, method, url, tok, body string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

func TestAuth(t *testing.T) {
	srv, _ := newAPI(t)
	for _, path := range []string{"/healthz", "/livez", "/readyz"} {
		if resp, _ := do(t, "GET", srv.URL+path, "", ""); resp.StatusCode != 200 {
			t.Errorf("%s without token: %d", path, resp.StatusCode)
		}
	}
	for _, path := range []string{"/v1/log", "/metrics"} {
		for _, tok := range []string{"", "wrong", token + "x"} {
			resp, body := do(t, "GET", srv.URL+path, tok, "")
			if resp.StatusCode != 401 || body["error"] == nil || resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s with token %q: %d %v", path, tok, resp.StatusCode, body)
			}
		}
		if resp, _ := do(t, "GET", srv.URL+path, token, ""); resp.StatusCode != 200 {
			t.Errorf("%s with token: %d", path, resp.StatusCode)
		}
	}
}

func TestInboundAndLog(t *testing.T) {
	srv, _ := newAPI(t)
	msg := "Subject: via http\r\nMessage-ID: <h1@x>\r\n\r\nhello\r\n"
	q := url.Values{"mail_from": {"a@client.test"}, "rcpt": {"help@example.test"}}
	resp, body := do(t, "POST", srv.URL+"/v1/inbound?"+q.Encode(), token, msg)
	if resp.StatusCode != 200 || body["id"] == "" || body["duplicate"] != false {
		t.Fatalf("POST /v1/inbound: %d %v", resp.StatusCode, body)
	}
	if _, body := do(t, "POST", srv.URL+"/v1/inbound?"+q.Encode(), token, msg); body["duplicate"] != true {
		t.Errorf("resubmission: %v, want duplicate", body)
	}
	resp, body = do(t, "GET", srv.URL+"/v1/log?hours=1&direction=in", token, "")
	entries, _ := body["entries"].([]any)
	if resp.StatusCode != 200 || len(entries) != 1 || body["cursor"] == "" {
		t.Fatalf("GET /v1/log: %d %v", resp.StatusCode, body)
	}
	e := entries[0].(map[string]any)
	if e["subject"] != "via http" || e["status"] != "received" || e["proto"] != "HTTP" {
		t.Errorf("entry = %v", e)
	}
	_, body = do(t, "GET", srv.URL+"/v1/log?after="+body["cursor"].(string), token, "")
	if got := body["entries"].([]any); len(got) != 0 {
		t.Errorf("after the cursor: %v", got)
	}
}

func TestValidationErrorsNameTheField(t *testing.T) {
	srv, _ := newAPI(t)
	cases := []struct {
		method, path, body string
		code               int
		field              string
	}{
		{"GET", "/v1/log?direction=sideways", "", 400, "direction"},
		{"GET", "/v1/log?hours=-3", "", 400, "hours"},
		{"GET", "/v1/log?limit=0", "", 400, "limit"},
		{"GET", "/v1/log?after=zz", "", 400, "after"},
		{"POST", "/v1/inbound", "Subject: x\r\n\r\n", 400, "rcpt"},
		{"POST", "/v1/inbound?rcpt=a@elsewhere.test", "Subject: x\r\n\r\n", 400, "rcpt"},
		{"POST", "/v1/inbound?rcpt=a@example.test", "Subject: x\r\n\r\n" + strings.Repeat("y", 3000), 413, "body"},
	}
	for _, c := range cases {
		resp, body := do(t, c.method, srv.URL+c.path, token, c.body)
		if resp.StatusCode != c.code || body["field"] != c.field {
			t.Errorf("%s %s: %d %v, want %d naming %q", c.method, c.path, resp.StatusCode, body, c.code, c.field)
		}
	}
}

func TestReadyReflectsDaemonState(t *testing.T) {
	ready := false
	s := &Server{Ready: func() bool { return ready }, Clock: clock.Real{}}
	srv := httptest.NewServer(s.Handler(false))
	defer srv.Close()
	if resp, _ := do(t, "GET", srv.URL+"/readyz", "", ""); resp.StatusCode != 503 {
		t.Errorf("not ready: %d", resp.StatusCode)
	}
	ready = true
	if resp, body := do(t, "GET", srv.URL+"/readyz", "", ""); resp.StatusCode != 200 || body["version"] == "" || body["version"] != version.Get().Short() {
		t.Errorf("ready: %d %v, want version %q", resp.StatusCode, body, version.Get().Short())
	}
	// Details (the IMAP mailboxes) are added; a failing one leaves the
	// node ready.
	s.ReadyDetails = func() map[string]any {
		return map[string]any{"fetch": []map[string]string{{"name": "m365", "state": "failing"}}}
	}
	resp, body := do(t, "GET", srv.URL+"/readyz", "", "")
	if fetch, _ := body["fetch"].([]any); resp.StatusCode != 200 || body["status"] != "ready" || len(fetch) != 1 {
		t.Errorf("with details: %d %v", resp.StatusCode, body)
	}
}
