package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/client"
	"github.com/emersion/go-sasl"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/deskmail/deskmail/store"
)

// Provider endpoints and the scopes IMAP needs.
var (
	// MicrosoftScopes is the delegated scope of IMAP in Exchange Online
	// (with offline_access, for a refresh token).
	MicrosoftScopes = []string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}
	// MicrosoftAppScopes is the application permission IMAP.AccessAsApp
	// as a client-credentials scope.
	MicrosoftAppScopes = []string{"https://outlook.office365.com/.default"}
	// GoogleScopes is the only scope Gmail's IMAP accepts.
	GoogleScopes   = []string{"https://mail.google.com/"}
	googleEndpoint = oauth2.Endpoint{
		AuthURL:       "https://accounts.google.com/o/oauth2/auth",
		TokenURL:      "https://oauth2.googleapis.com/token",
		DeviceAuthURL: "https://oauth2.googleapis.com/device/code",
	}
)

func microsoftEndpoint(tenant string) oauth2.Endpoint {
	if tenant == "" {
		tenant = "organizations"
	}
	base := "https://login.microsoftonline.com/" + tenant + "/oauth2/v2.0/"
	return oauth2.Endpoint{AuthURL: base + "authorize", TokenURL: base + "token", DeviceAuthURL: base + "devicecode"}
}

// OAuth2Config is the client of s's provider (refresh tokens and the
// device flow); secrets are read from their files.
func (s Settings) OAuth2Config() (*oauth2.Config, error) {
	id, err := readSecret(s.ClientIDFile)
	if err != nil {
		return nil, fmt.Errorf("client_id_file: %w", err)
	}
	var secret string
	if s.ClientSecretFile != "" {
		if secret, err = readSecret(s.ClientSecretFile); err != nil {
			return nil, fmt.Errorf("client_secret_file: %w", err)
		}
	}
	c := &oauth2.Config{ClientID: id, ClientSecret: secret, Scopes: s.Scopes}
	switch s.OAuth2Provider {
	case "microsoft":
		c.Endpoint = microsoftEndpoint(s.Tenant)
		if len(c.Scopes) == 0 {
			c.Scopes = MicrosoftScopes
		}
	case "google":
		c.Endpoint = googleEndpoint
		if len(c.Scopes) == 0 {
			c.Scopes = GoogleScopes
		}
	default:
		c.Endpoint = oauth2.Endpoint{TokenURL: s.TokenURL, DeviceAuthURL: s.DeviceURL, AuthURL: s.AuthURL}
	}
	return c, nil
}

func readSecret(path string) (string, error) {
	if path == "" {
		return "", errors.New("no file named")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return v, nil
}

// signer signs in to one mailbox; it keeps the OAuth2 token between
// connections and refreshes it when it expires.
type signer struct {
	m      *Mailbox
	client *http.Client

	mu     sync.Mutex
	tokens oauth2.TokenSource
	seen   string // the refresh token last read or written
}

func newSigner(m *Mailbox) *signer {
	return &signer{m: m, client: &http.Client{Timeout: 30 * time.Second}}
}

func (s *signer) oauth() bool {
	st := s.m.Settings
	return st.OAuth2Provider != "" || st.RefreshTokenFile != "" || st.TokenCommand != ""
}

// signIn authenticates c: a password with LOGIN, or a token with SASL
// XOAUTH2 or OAUTHBEARER.
func (s *signer) signIn(ctx context.Context, c *client.Client) error {
	if !s.oauth() {
		pw := s.m.Password
		if s.m.Settings.PasswordFile != "" {
			var err error
			if pw, err = readSecret(s.m.Settings.PasswordFile); err != nil {
				return &SignInError{fmt.Errorf("password_file: %w", err)}
			}
		}
		if err := c.Login(s.m.User, pw); err != nil {
			return &SignInError{fmt.Errorf("login as %s: %w", s.m.User, err)}
		}
		return nil
	}
	tok, err := s.token(ctx)
	if err != nil {
		return &SignInError{fmt.Errorf("get an access token: %w", err)}
	}
	var mech sasl.Client
	if s.m.Settings.SASL == "oauthbearer" {
		mech = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: s.m.User, Token: tok})
	} else {
		mech = &xoauth2{user: s.m.User, token: tok}
	}
	if err := c.Authenticate(mech); err != nil {
		s.mu.Lock()
		s.tokens = nil // refresh next time: the token may have been revoked
		s.mu.Unlock()
		return &SignInError{fmt.Errorf("authenticate as %s: %w", s.m.User, err)}
	}
	return nil
}

// token returns a valid access token.
func (s *signer) token(ctx context.Context) (string, error) {
	st := s.m.Settings
	if st.TokenCommand != "" {
		return runTokenCommand(ctx, st.TokenCommand)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tokens == nil {
		ts, err := s.source(ctx)
		if err != nil {
			return "", err
		}
		s.tokens = ts
	}
	t, err := s.tokens.Token()
	if err != nil {
		s.tokens = nil
		return "", err
	}
	// Microsoft may hand out a new refresh token: keep it for the next
	// start, or the old one eventually expires.
	if st.RefreshTokenFile != "" && t.RefreshToken != "" && t.RefreshToken != s.seen {
		if err := store.WriteFileAtomic(st.RefreshTokenFile, []byte(t.RefreshToken+"\n"), 0o600); err == nil {
			s.seen = t.RefreshToken
		}
	}
	return t.AccessToken, nil
}

func (s *signer) source(ctx context.Context) (oauth2.TokenSource, error) {
	st := s.m.Settings
	ctx = context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, s.client)
	conf, err := st.OAuth2Config()
	if err != nil {
		return nil, err
	}
	if st.RefreshTokenFile == "" {
		// Microsoft's app-only access (IMAP.AccessAsApp): client credentials.
		scopes := st.Scopes
		if len(scopes) == 0 {
			scopes = MicrosoftAppScopes
		}
		cc := &clientcredentials.Config{ClientID: conf.ClientID, ClientSecret: conf.ClientSecret,
			TokenURL: conf.Endpoint.TokenURL, Scopes: scopes}
		return cc.TokenSource(ctx), nil
	}
	rt, err := readSecret(st.RefreshTokenFile)
	if err != nil {
		return nil, fmt.Errorf("refresh_token_file: %w", err)
	}
	s.seen = rt
	return conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt}), nil
}

// runTokenCommand runs an admin's command that prints an access token.
func runTokenCommand(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("token_command: %w: %s", err, clip(errb.String(), 200))
	}
	tok, _, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	if tok = strings.TrimSpace(tok); tok == "" {
		return "", errors.New("token_command printed nothing")
	}
	return tok, nil
}

// xoauth2 is Google's and Microsoft's SASL XOAUTH2 mechanism, which
// go-sasl does not have: the user and the Bearer token in one response;
// on failure the server sends a JSON challenge, answered empty to get
// the final NO.
type xoauth2 struct {
	user, token string
	failed      bool
}

func (x *xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x *xoauth2) Next(challenge []byte) ([]byte, error) {
	if x.failed {
		return nil, errors.New("xoauth2: unexpected challenge")
	}
	x.failed = true
	return []byte{}, nil
}

// SignInError is a refused sign-in (wrong password, revoked token):
// retrying at once would not help.
type SignInError struct{ Err error }

func (e *SignInError) Error() string { return e.Err.Error() }
func (e *SignInError) Unwrap() error { return e.Err }

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
