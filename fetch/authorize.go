package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/oauth2"

	"github.com/deskmail/deskmail/store"
)

// Authorize is `deskmail fetch authorize`: it walks an admin through
// signing in to the mailbox's provider once and writes the refresh token
// to refresh_token_file (mode 0600), from which the daemon then gets its
// access tokens.
//
// Where the provider has the device code flow (Microsoft, a custom
// provider with device_url) the admin opens a URL on any device and types
// a code. Google's device flow does not grant the https://mail.google.com/
// scope, so for Google (or with loopback set) it is the authorization
// code flow with PKCE and a redirect to a listener on 127.0.0.1: the
// admin opens the printed URL in a browser on the same machine (or
// forwards the port with ssh -L).
func Authorize(ctx context.Context, s Settings, loopback bool, w io.Writer) error {
	if s.RefreshTokenFile == "" {
		return errors.New("the mailbox has no refresh_token_file to write the token to")
	}
	conf, err := s.OAuth2Config()
	if err != nil {
		return err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, &http.Client{Timeout: 30 * time.Second})
	var tok *oauth2.Token
	if loopback || s.OAuth2Provider == "google" || conf.Endpoint.DeviceAuthURL == "" {
		if conf.Endpoint.AuthURL == "" {
			return errors.New("the provider has neither a device_url nor an auth_url to sign in at")
		}
		tok, err = authorizeLoopback(ctx, conf, w)
	} else {
		tok, err = authorizeDevice(ctx, conf, w)
	}
	if err != nil {
		return err
	}
	if tok.RefreshToken == "" {
		return errors.New("the provider gave no refresh token (Microsoft: ask for offline_access; Google: the consent screen must be shown, prompt=consent)")
	}
	if err := store.WriteFileAtomic(s.RefreshTokenFile, []byte(tok.RefreshToken+"\n"), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", s.RefreshTokenFile, err)
	}
	fmt.Fprintf(w, "The refresh token is in %s. Start (or restart) deskmail serve; `deskmail fetch test` checks the sign-in.\n", s.RefreshTokenFile)
	return nil
}

func authorizeDevice(ctx context.Context, conf *oauth2.Config, w io.Writer) (*oauth2.Token, error) {
	da, err := conf.DeviceAuth(ctx)
	if err != nil {
		return nil, fmt.Errorf("device authorization: %w", err)
	}
	fmt.Fprintf(w, "Open %s and enter the code %s, then sign in as the mailbox's user (or an admin who consents for it).\n", da.VerificationURI, da.UserCode)
	if da.VerificationURIComplete != "" {
		fmt.Fprintf(w, "(or open %s)\n", da.VerificationURIComplete)
	}
	fmt.Fprintln(w, "Waiting for the sign-in...")
	tok, err := conf.DeviceAccessToken(ctx, da)
	if err != nil {
		return nil, fmt.Errorf("device sign-in: %w", err)
	}
	return tok, nil
}

func authorizeLoopback(ctx context.Context, conf *oauth2.Config, w io.Writer) (*oauth2.Token, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer l.Close()
	c := *conf
	c.RedirectURL = "http://" + l.Addr().String() + "/"
	verifier := oauth2.GenerateVerifier()
	state := oauth2.GenerateVerifier()
	codes := make(chan string, 1)
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("state") != state || r.URL.Query().Get("code") == "" {
			http.Error(rw, "not the answer deskmail is waiting for", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(rw, "deskmail has the authorization; you may close this page.\n")
		select {
		case codes <- r.URL.Query().Get("code"):
		default:
		}
	})}
	go func() { _ = srv.Serve(l) }()
	defer srv.Close()
	url := c.AuthCodeURL(state, oauth2.AccessTypeOffline, oauth2.SetAuthURLParam("prompt", "consent"), oauth2.S256ChallengeOption(verifier))
	fmt.Fprintf(w, "Open this URL in a browser on this machine (or forward port %s with ssh -L) and sign in as the mailbox's user:\n%s\nWaiting for the sign-in...\n", l.Addr().(*net.TCPAddr).AddrPort().String(), url)
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case code := <-codes:
		tok, err := c.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			return nil, fmt.Errorf("exchange the code: %w", err)
		}
		return tok, nil
	}
}
