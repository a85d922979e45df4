package fetch

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/deskmail/deskmail/fetch/imaptest"
)

// authServer is an OAuth2 provider on loopback: a token endpoint that
// trades the refresh token for access tokens (rotating the refresh token,
// as Microsoft does) and the introspection endpoint Dovecot asks.
type authServer struct {
	*httptest.Server
	user string

	mu      sync.Mutex
	refresh string
	issued  map[string]bool
	grants  int
}

func newAuthServer(t *testing.T, user string) *authServer {
	a := &authServer{user: user, refresh: "refresh-0", issued: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if r.FormValue("grant_type") != "refresh_token" || r.FormValue("refresh_token") != a.refresh {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
			return
		}
		if id, _, _ := r.BasicAuth(); id != "client-id" && r.FormValue("client_id") != "client-id" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client"}`))
			return
		}
		a.grants++
		tok := "access-" + strings.Repeat("x", a.grants)
		a.issued[tok] = true
		a.refresh = "refresh-" + strings.Repeat("r", a.grants)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600, "refresh_token": a.refresh})
	})
	mux.HandleFunc("GET /introspect", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		ok := a.issued[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
		a.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"active":false}`))
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"active": true, "username": a.user})
	})
	a.Server = httptest.NewServer(mux)
	t.Cleanup(a.Close)
	return a
}

func writeFile(t *testing.T, dir, name, content string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// XOAUTH2 and OAUTHBEARER against Dovecot's oauth2 passdb: the access
// token comes from the refresh token in a file (x/oauth2), the rotated
// refresh token is written back, and a revoked grant is reported.
func TestOAuth2SignIn(t *testing.T) {
	for _, mech := range []string{"xoauth2", "oauthbearer"} {
		t.Run(mech, func(t *testing.T) {
			// Dovecot needs the user to exist for the URL's user name.
			a := newAuthServer(t, "desk@example.test")
			f := newFixture(t, imaptest.Options{OAuth2URL: a.URL + "/introspect"})
			dir := t.TempDir()
			rt := writeFile(t, dir, "refresh", "refresh-0")
			m := f.mailbox(func(s *Settings) {
				s.URL = "imap://" + f.imap.User + "@" + f.imap.Addr + "/INBOX"
				s.OAuth2Provider, s.TokenURL, s.SASL = "custom", a.URL+"/token", mech
				s.ClientIDFile = writeFile(t, dir, "id", "client-id")
				s.ClientSecretFile = writeFile(t, dir, "secret", "client-secret")
				s.RefreshTokenFile = rt
			})
			f.imap.Append("INBOX", message(1, "oauth"))
			fe, _ := f.run(m, nil)
			waitUntil(t, "the message is moved", func() bool { return f.imap.Count(DefaultFolder) == 1 })
			if st := fe.Statuses()[0]; st.Failing() {
				t.Fatalf("status %+v", st)
			}
			b, _ := os.ReadFile(rt)
			if got := strings.TrimSpace(string(b)); got != "refresh-r" {
				t.Fatalf("refresh token file holds %q, want the rotated refresh-r", got)
			}
		})
	}
}

func TestOAuth2RevokedGrantReported(t *testing.T) {
	a := newAuthServer(t, "desk@example.test")
	f := newFixture(t, imaptest.Options{OAuth2URL: a.URL + "/introspect"})
	dir := t.TempDir()
	m := f.mailbox(func(s *Settings) {
		s.URL = "imap://" + f.imap.User + "@" + f.imap.Addr + "/INBOX"
		s.OAuth2Provider, s.TokenURL = "custom", a.URL+"/token"
		s.ClientIDFile = writeFile(t, dir, "id", "client-id")
		s.RefreshTokenFile = writeFile(t, dir, "refresh", "revoked")
	})
	fe, _ := f.run(m, nil)
	waitUntil(t, "the mailbox fails", func() bool { return fe.Statuses()[0].Failing() })
	if st := fe.Statuses()[0]; !strings.Contains(st.Error, "invalid_grant") {
		t.Fatalf("status %+v: want the provider's invalid_grant", st)
	}
}

// A token from token_command, presented with XOAUTH2; a token the server
// refuses is reported as a sign-in failure.
func TestTokenCommand(t *testing.T) {
	a := newAuthServer(t, "desk@example.test")
	a.issued["from-command"] = true
	f := newFixture(t, imaptest.Options{OAuth2URL: a.URL + "/introspect"})
	m := f.mailbox(func(s *Settings) {
		s.URL = "imap://" + f.imap.User + "@" + f.imap.Addr + "/INBOX"
		s.TokenCommand = "echo from-command"
	})
	f.imap.Append("INBOX", message(1, "cmd"))
	f.run(m, nil)
	waitUntil(t, "the message is moved", func() bool { return f.imap.Count(DefaultFolder) == 1 })

	bad := f.mailbox(func(s *Settings) {
		s.Name = "bad"
		s.URL = "imap://" + f.imap.User + "@" + f.imap.Addr + "/INBOX"
		s.TokenCommand = "echo not-a-token"
	})
	fe, _ := f.run(bad, nil)
	waitUntil(t, "the bad mailbox fails", func() bool { return fe.Statuses()[0].Failing() })
	if st := fe.Statuses()[0]; !strings.Contains(st.Error, "authenticate as desk@example.test") {
		t.Fatalf("status %+v", st)
	}
}
