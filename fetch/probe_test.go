package fetch

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/fetch/imaptest"
)

func TestProbeChangesNothing(t *testing.T) {
	f := newFixture(t, imaptest.Options{})
	f.imap.Fill("INBOX", time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), message(1, "old"))
	f.imap.Append("INBOX", message(2, "new"), append(message(3, "big"), strings.Repeat("y", 3000)...))
	m := f.mailbox(func(s *Settings) { s.Since = "2026-01-01" })
	var out bytes.Buffer
	if err := Probe(context.Background(), m, 2000, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"folder    INBOX: 3 messages", "would fetch 2 message(s) on a first run (those that arrived since 2026-01-01)",
		"1 over the size limit", "move each stored message to deskmail-processed (would be created)", "nothing was changed"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if n := f.imap.Count("INBOX"); n != 3 {
		t.Fatalf("INBOX has %d", n)
	}
	if seenCount(f.imap.Flags("INBOX")) != 0 {
		t.Fatal("a message was flagged")
	}
	c := f.imap.Client()
	defer c.Logout()
	if _, err := c.Select(DefaultFolder, true); err == nil {
		t.Fatal("the processed folder was created")
	}
}

// The device code flow against a provider on loopback: the refresh
// token lands in its file, mode 0600.
func TestAuthorizeDeviceFlow(t *testing.T) {
	polls := 0
	mux := http.NewServeMux()
	mux.HandleFunc("POST /device", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"device_code": "dev-1", "user_code": "ABCD-EFGH",
			"verification_uri": "https://login.example/device", "expires_in": 600, "interval": 1})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.FormValue("device_code") != "dev-1" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		if polls++; polls < 2 {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"authorization_pending"}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 3600, "refresh_token": "the-refresh"})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	s := Settings{OAuth2Provider: "custom", TokenURL: srv.URL + "/token", DeviceURL: srv.URL + "/device",
		ClientIDFile: writeFile(t, dir, "id", "client-id"), RefreshTokenFile: dir + "/refresh"}
	var out bytes.Buffer
	if err := Authorize(context.Background(), s, false, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "enter the code ABCD-EFGH") {
		t.Fatalf("output:\n%s", out.String())
	}
	b, err := os.ReadFile(dir + "/refresh")
	if err != nil || strings.TrimSpace(string(b)) != "the-refresh" {
		t.Fatalf("refresh file: %q %v", b, err)
	}
	if st, _ := os.Stat(dir + "/refresh"); st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", st.Mode())
	}
}

// The browser flow with a redirect to 127.0.0.1 and PKCE (Google's way):
// the test plays the browser and the provider.
func TestAuthorizeLoopback(t *testing.T) {
	mux := http.NewServeMux()
	var challenge string
	mux.HandleFunc("GET /auth", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		challenge = q.Get("code_challenge")
		if q.Get("client_id") != "client-id" || challenge == "" || q.Get("access_type") != "offline" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		http.Redirect(w, r, q.Get("redirect_uri")+"?code=the-code&state="+url.QueryEscape(q.Get("state")), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		sum := sha256.Sum256([]byte(r.FormValue("code_verifier")))
		if r.FormValue("code") != "the-code" || base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "at", "token_type": "Bearer", "refresh_token": "loop-refresh"})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	dir := t.TempDir()
	s := Settings{OAuth2Provider: "custom", TokenURL: srv.URL + "/token", AuthURL: srv.URL + "/auth",
		ClientIDFile: writeFile(t, dir, "id", "client-id"), RefreshTokenFile: dir + "/refresh"}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- Authorize(context.Background(), s, true, pw); pw.Close() }()
	sc := bufio.NewScanner(pr)
	browsed := false
	for sc.Scan() {
		if line := sc.Text(); strings.HasPrefix(line, srv.URL+"/auth?") && !browsed {
			browsed = true
			go func() {
				resp, err := http.Get(line) // follows the redirect to deskmail's listener
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
			}()
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dir + "/refresh"); strings.TrimSpace(string(b)) != "loop-refresh" {
		t.Fatalf("refresh file %q", b)
	}
}
