package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/docs/apicheck"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/store"
)

// api is a Server with messaging on a real listener and a real bbolt file.
type api struct {
	t      *testing.T
	srv    *httptest.Server
	s      *Server
	db     *store.DB
	stop   context.CancelFunc // ends the live streams, as the daemon does
	client *http.Client
}

func newMessagingAPI(t *testing.T, tune ...func(*Server)) *api {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.Real{}
	streams, stop := context.WithCancel(context.Background())
	s := &Server{DB: db, Token: token, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Messaging: &messaging.Service{DB: db, Clock: clk, Hub: messaging.NewHub()}, Streams: streams}
	for _, f := range tune {
		f(s)
	}
	srv := httptest.NewServer(s.Handler(false))
	// Cleanups run last first: stop the streams, then Close, which waits
	// for every handler, then the store.
	t.Cleanup(srv.Close)
	t.Cleanup(stop)
	// Every exchange of every test is checked against docs/openapi.json.
	return &api{t: t, srv: srv, s: s, db: db, stop: stop, client: apicheck.Client(t, srv.Client())}
}

// call sends body (a string as is, anything else as JSON) with the token
// and decodes a JSON answer into a map.
func (a *api) call(method, path string, body any) (int, map[string]any) {
	a.t.Helper()
	resp, out := a.callTok(method, path, token, body)
	return resp.StatusCode, out
}

func (a *api) callTok(method, path, tok string, body any) (*http.Response, map[string]any) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := a.client.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp, m
}

// must is call that fails the test unless the answer has the code.
func (a *api) must(code int, method, path string, body any) map[string]any {
	a.t.Helper()
	got, m := a.call(method, path, body)
	if got != code {
		a.t.Fatalf("%s %s: %d %v, want %d", method, path, got, m, code)
	}
	return m
}

// helpdesk makes the SPEC's small world through the API: an agent who
// follows item i1 (default settings), a manager (support_manager preset,
// all projects), a customer ann following external conversation c1, and
// an internal conversation c2.
func (a *api) helpdesk() {
	a.t.Helper()
	a.must(201, "PUT", "/v1/people/agent", map[string]any{"kind": "user", "name": "Agent", "emails": []string{"Agent@Example.test"}})
	a.must(201, "PUT", "/v1/people/boss", map[string]any{"kind": "user", "name": "Boss", "emails": []string{"boss@example.test"}})
	a.must(200, "PATCH", "/v1/people/boss/settings", map[string]any{"preset": "support_manager", "visibility": "all_projects"})
	a.must(201, "PUT", "/v1/people/ann", map[string]any{"kind": "customer", "name": "Ann", "emails": []string{"ann@client.test"}})
	a.must(201, "PUT", "/v1/projects/p1", map[string]any{"name": "Support"})
	a.must(201, "PUT", "/v1/items/i1", map[string]any{"project": "p1", "title": "Printer", "followers": []string{"agent"}})
	a.must(201, "PUT", "/v1/conversations/c1", map[string]any{"item": "i1", "kind": "external", "followers": []string{"ann"}})
	a.must(201, "PUT", "/v1/conversations/c2", map[string]any{"item": "i1", "kind": "internal"})
}

// post posts text by author in conv and returns the message ID.
func (a *api) post(conv, author, text string) string {
	a.t.Helper()
	m := a.must(201, "POST", "/v1/conversations/"+conv+"/messages", map[string]any{"author": author, "text": text})
	return m["message"].(map[string]any)["id"].(string)
}

func list(v any) []any { l, _ := v.([]any); return l }
