package fetch

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
)

// Settings is one mailbox as the config file's [[fetch]] table (or a
// --fetch URL) gives it, as text; Mailbox checks it.
type Settings struct {
	Name         string `toml:"name"`
	URL          string `toml:"url"`
	PasswordFile string `toml:"password_file"`
	To           string `toml:"to"`
	After        string `toml:"after"`
	Since        string `toml:"since"`
	Poll         string `toml:"poll"`
	MaxPerMinute int    `toml:"max_per_minute"`
	TLSInsecure  bool   `toml:"tls_insecure"`
	TLSCAFile    string `toml:"tls_ca_file"` // PEM CA certificates to trust instead of the system's

	// OAuth2 sign-in (SASL XOAUTH2 or OAUTHBEARER).
	OAuth2Provider   string   `toml:"oauth2_provider"` // microsoft, google or custom
	Tenant           string   `toml:"tenant"`          // microsoft: the directory (tenant) id or domain; default "organizations"
	TokenURL         string   `toml:"token_url"`       // custom provider
	DeviceURL        string   `toml:"device_url"`      // custom provider's device authorization endpoint
	AuthURL          string   `toml:"auth_url"`        // custom provider's authorization endpoint (authorize --loopback)
	ClientIDFile     string   `toml:"client_id_file"`
	ClientSecretFile string   `toml:"client_secret_file"`
	RefreshTokenFile string   `toml:"refresh_token_file"`
	Scopes           []string `toml:"scopes"`
	TokenCommand     string   `toml:"token_command"` // prints an access token
	SASL             string   `toml:"sasl"`          // xoauth2 (default) or oauthbearer
}

// Security is how the connection is protected.
type Security int

const (
	// TLS from the first byte (imaps://, port 993).
	TLS Security = iota
	// STARTTLS when the server offers it (imap://, port 143); without
	// it a password or token is sent only to a loopback address.
	StartTLS
)

// After is what is done on the server to a message once it is stored.
type After struct {
	Kind   string // "move", "seen" or "delete"
	Folder string // for move
}

func (a After) String() string {
	if a.Kind == "move" {
		return "move:" + a.Folder
	}
	return a.Kind
}

// DefaultFolder is where fetched messages are moved by default.
const DefaultFolder = "deskmail-processed"

// Defaults of a mailbox.
const (
	DefaultPoll         = 60 * time.Second
	DefaultMaxPerMinute = 6000
)

// Mailbox is one checked mailbox to fetch from.
type Mailbox struct {
	Name        string // names it in the log, metrics and the lease
	Security    Security
	Host        string
	Addr        string // host:port
	User        string
	Password    string // from the URL (tests); PasswordFile is read at each sign-in
	Folder      string // the mailbox to read, INBOX by default
	To          string // the address its mail is threaded as sent to
	After       After
	Since       time.Time // zero: all; else the first run skips older mail
	Poll        time.Duration
	MaxPerMin   int
	TLSInsecure bool
	Settings    Settings // the text it came from (password files, OAuth2)
}

// Mailbox checks s and returns the mailbox it describes. to is the
// address used when s names none.
func (s Settings) Mailbox(defaultTo string) (*Mailbox, error) {
	m := &Mailbox{Settings: s, Poll: DefaultPoll, MaxPerMin: DefaultMaxPerMinute, TLSInsecure: s.TLSInsecure}
	u, err := url.Parse(s.URL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("url %q: want imaps://USER@HOST[:PORT]/MAILBOX or imap://USER@HOST[:PORT]/MAILBOX", redact(s.URL))
	}
	port := "993"
	switch u.Scheme {
	case "imaps":
		m.Security = TLS
	case "imap":
		m.Security, port = StartTLS, "143"
	default:
		return nil, fmt.Errorf("url %q: scheme must be imaps or imap", redact(s.URL))
	}
	m.Host = u.Hostname()
	if p := u.Port(); p != "" {
		port = p
	}
	m.Addr = net.JoinHostPort(m.Host, port)
	if u.User != nil {
		m.User = u.User.Username()
		m.Password, _ = u.User.Password()
	}
	if m.User == "" {
		return nil, fmt.Errorf("url %q: no user (imaps://USER@HOST/...)", redact(s.URL))
	}
	m.Folder = strings.TrimPrefix(u.Path, "/")
	if m.Folder == "" {
		m.Folder = "INBOX"
	}
	m.Name = s.Name
	if m.Name == "" {
		m.Name = m.User + "@" + m.Host + "/" + m.Folder
		if strings.Contains(m.User, "@") {
			m.Name = m.User + "/" + m.Folder
		}
	}
	m.To = strings.ToLower(strings.TrimSpace(s.To))
	if m.To == "" {
		m.To = defaultTo
	}
	if at := strings.LastIndexByte(m.To, '@'); at <= 0 || at == len(m.To)-1 || strings.ContainsAny(m.To, " <>,;") {
		return nil, fmt.Errorf("to %q: want the address this mailbox stands for, such as support@example.com", m.To)
	}
	if m.After, err = parseAfter(s.After); err != nil {
		return nil, err
	}
	if m.After.Kind == "move" && m.After.Folder == m.Folder {
		return nil, fmt.Errorf("after %q: the folder fetched from", s.After)
	}
	if s.Since != "" {
		t, err := time.Parse("2006-01-02", s.Since)
		if err != nil {
			return nil, fmt.Errorf("since %q: want a date such as 2026-01-31", s.Since)
		}
		m.Since = t
	}
	if s.Poll != "" {
		d, err := time.ParseDuration(s.Poll)
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("poll %q: want a duration of at least 1s, such as 60s", s.Poll)
		}
		m.Poll = d
	}
	if s.MaxPerMinute < 0 {
		return nil, fmt.Errorf("max_per_minute %d: want a positive number", s.MaxPerMinute)
	} else if s.MaxPerMinute > 0 {
		m.MaxPerMin = s.MaxPerMinute
	}
	if err := s.checkAuth(m); err != nil {
		return nil, err
	}
	return m, nil
}

func parseAfter(s string) (After, error) {
	switch {
	case s == "":
		return After{Kind: "move", Folder: DefaultFolder}, nil
	case s == "seen" || s == "delete":
		return After{Kind: s}, nil
	case strings.HasPrefix(s, "move:") && len(s) > len("move:"):
		return After{Kind: "move", Folder: s[len("move:"):]}, nil
	}
	return After{}, fmt.Errorf("after %q: want move:FOLDER, seen or delete", s)
}

// checkAuth: exactly one way to sign in.
func (s Settings) checkAuth(m *Mailbox) error {
	ways := 0
	for _, set := range []bool{m.Password != "", s.PasswordFile != "", s.OAuth2Provider != "" || s.RefreshTokenFile != "", s.TokenCommand != ""} {
		if set {
			ways++
		}
	}
	if ways != 1 {
		return errors.New("sign-in: give exactly one of password_file, oauth2_provider (with client_id_file, client_secret_file, refresh_token_file), token_command, or a password in the URL (tests)")
	}
	switch s.SASL {
	case "", "xoauth2", "oauthbearer":
	default:
		return fmt.Errorf("sasl %q: want xoauth2 or oauthbearer", s.SASL)
	}
	if s.OAuth2Provider == "" && s.RefreshTokenFile == "" {
		return nil
	}
	switch s.OAuth2Provider {
	case "microsoft", "google":
	case "custom":
		if s.TokenURL == "" {
			return errors.New("oauth2_provider custom: token_url is needed")
		}
	default:
		return fmt.Errorf("oauth2_provider %q: want microsoft, google or custom", s.OAuth2Provider)
	}
	appOnly := s.OAuth2Provider == "microsoft" && s.RefreshTokenFile == "" && s.ClientSecretFile != ""
	if s.ClientIDFile == "" || (s.RefreshTokenFile == "" && !appOnly) {
		return errors.New("oauth2: client_id_file and refresh_token_file are needed (client_secret_file too, unless the client is public; microsoft app-only access: client_id_file and client_secret_file)")
	}
	return nil
}

// FromURL is the settings of a --fetch URL alone.
func FromURL(raw string) Settings { return Settings{URL: raw} }

// redact hides a password in a URL for messages.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unreadable URL)"
	}
	if u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}
