// Package config holds the daemon's settings and reads them from three
// layers: a TOML config file, DESKMAIL_* environment variables and command
// line flags, each overriding the one before. Every setting has one name,
// used as the flag (--max-message-bytes), the file key (max-message-bytes =
// "25MiB") and the variable (DESKMAIL_MAX_MESSAGE_BYTES). A bad value stops
// the start with an error that names the setting and where it came from.
package config

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/fetch"
	"github.com/deskmail/deskmail/loopguard"
)

// Config is the daemon's settings.
type Config struct {
	SMTPAddr string
	LMTPAddr string
	HTTPAddr string
	// limits of the HTTP listener (package httplimit)
	HTTPReadHeaderTimeout time.Duration
	HTTPReadTimeout       time.Duration
	HTTPWriteTimeout      time.Duration
	HTTPIdleTimeout       time.Duration
	HTTPMaxConns          int
	HTTPMaxConnsPerIP     int
	Data                  string
	Store                 string        // "" for the bbolt file in Data, or a postgres:// URL shared by several nodes
	StoreDirect           string        // a URL of Store's database that bypasses a transaction-mode pooler Store goes through
	StoreLogSize          int64         // bbolt: size each of the two write-ahead log files grows to
	StoreCheckpoint       time.Duration // bbolt: the longest a logged write waits for its checkpoint into the file
	Domains               []string
	Hostname              string
	MaxMessageBytes       int64
	MaxHeaderBytes        int64
	MaxRecipients         int
	MaxLineBytes          int
	ReadTimeout           time.Duration
	WriteTimeout          time.Duration
	SessionTimeout        time.Duration
	MaxConns              int
	MaxConnsPerIP         int
	TLSCert               string
	TLSKey                string
	TLSSelfSigned         bool
	APIToken              string
	Retention             time.Duration
	ShutdownTimeout       time.Duration
	LogLevel              string
	LogFormat             string

	// threading and sender checks
	SupportAddresses []string       // open a new external conversation; default support@ each domain
	ReplyDomain      string         // domain of reply+TOKEN addresses; default the first domain
	TrustedRelays    []netip.Prefix // mail from these IPs is authenticated (your own MTA, a relay that checks)
	ForwarderIPs     []netip.Prefix // forwarders whose Authentication-Results are read...
	ForwarderIDs     []string       // ...when their authserv-id is one of these
	SenderMismatch   string         // quarantine or reject
	FeedbackLoops    []string       // domains or addresses whose authenticated abuse reports may suppress
	WebhookURL       string
	WebhookSecret    string
	// the web app's browsers (docs/WEBAPP.md)
	CORSOrigins []string // origins whose pages may call the person-token routes; none by default
	Demo        bool     // serve the demo messenger at /demo/
	// outbound and hold queue
	Hold          time.Duration
	Outbound      string // capture, relay or mx
	Relay         string
	RelayUsername string
	RelayPassword string
	RelayInsecure bool
	// OutboundAllowPrivate lets --outbound mx connect to loopback,
	// private, link-local and the daemon's own addresses.
	OutboundAllowPrivate bool
	MailFrom             string
	MailFromName         string
	RoleForward          string // operators' address for a copy of mail to postmaster@ and abuse@
	OutboundDomain       string
	MaxAge               time.Duration
	RetryBase            time.Duration
	QueueConcurrency     int
	DestConcurrency      int
	SuppressAfter        int
	// TransientSuppressAfter transient failures (4.x.x, a full
	// mailbox) of one address within TransientWindow suppress it.
	TransientSuppressAfter int
	TransientWindow        time.Duration
	ConversationCap        int      // loop guard: inbound from one address per conversation per 30 min
	RecipientCap           int      // loop guard: automatic emails to one external address per hour
	DKIMKeys               []string // sign with each (RSA and Ed25519: RFC 8463)
	DKIMSelectors          []string // one per key, in the same order

	// sources says which layer set each setting that is not at its
	// default ("flag --relay"), for errors about combinations.
	sources map[string]string
	// inbound pipeline
	DNS             string        // resolver host:port for SPF/DKIM/DMARC and MX; "" the system's
	DNSBudget       time.Duration // all the DNS of one inbound email
	DNSCache        int           // answers the resolver keeps (entries, by name and type)
	PipelineWorkers int
	// PipelineYield bounds how long the pipeline lets accepts go first
	// (0: it does not); PipelineYieldWorkers is what it keeps running
	// meanwhile.
	PipelineYield        time.Duration
	PipelineYieldWorkers int
	MaxPending           int
	MaxPendingBytes      int64

	// The daemon's Go runtime (cmd/deskmail/gc.go): the garbage
	// collector's target (GOGC) and its soft memory limit (GOMEMLIMIT).
	// The environment variables win when set.
	GCPercent   int
	MemoryLimit int64

	// Fetch are the IMAP mailboxes to read (--fetch URLs and [[fetch]]
	// tables of the config file), checked.
	Fetch       []*fetch.Mailbox
	fetchURLs   []string
	fetchTables []fetch.Settings
}

// option is one setting. Its name is the flag, the file key and (through
// EnvName) the environment variable; def is the default as an operator
// would type it; set binds a typed value (see values.go) to the Config
// field. repeat and isBool repeat what that value's type says, for the
// table's reader; a test checks that they agree.
type option struct {
	name   string
	def    []string
	help   string
	repeat bool // may be given several times (a list)
	isBool bool
	set    func(c *Config) pflag.Value
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		return "localhost"
	}
	return h
}

var options = []option{
	{name: "smtp-addr", def: []string{"127.0.0.1:2525"}, help: `SMTP listen address ("" or "off" disables)`, set: str(func(c *Config) *string { return &c.SMTPAddr })},
	{name: "lmtp-addr", help: `LMTP listen address, host:port or unix:/path (off by default)`, set: str(func(c *Config) *string { return &c.LMTPAddr })},
	{name: "http-addr", def: []string{"127.0.0.1:8025"}, help: `HTTP API listen address ("" or "off" disables)`, set: str(func(c *Config) *string { return &c.HTTPAddr })},
	{name: "http-read-header-timeout", def: []string{"10s"}, help: "time an HTTP client has to send a request's header", set: duration(func(c *Config) *time.Duration { return &c.HTTPReadHeaderTimeout })},
	{name: "http-read-timeout", def: []string{"60s"}, help: "time an HTTP client has to send a whole request, body included", set: duration(func(c *Config) *time.Duration { return &c.HTTPReadTimeout })},
	{name: "http-write-timeout", def: []string{"60s"}, help: "time to write an HTTP answer (live streams: per event)", set: duration(func(c *Config) *time.Duration { return &c.HTTPWriteTimeout })},
	{name: "http-idle-timeout", def: []string{"2m"}, help: "how long an idle HTTP keep-alive connection stays open", set: duration(func(c *Config) *time.Duration { return &c.HTTPIdleTimeout })},
	{name: "http-max-connections", def: []string{"512"}, help: "open HTTP connections, all clients (more wait)", set: integer(func(c *Config) *int { return &c.HTTPMaxConns })},
	{name: "http-max-connections-per-ip", def: []string{"64"}, help: "open HTTP connections from one IP address (IPv6: one /64); more are refused 503", set: integer(func(c *Config) *int { return &c.HTTPMaxConnsPerIP })},
	{name: "data", def: []string{"./deskmail-data"}, help: "data folder (database, spool, secrets, control socket)", set: str(func(c *Config) *string { return &c.Data })},
	{name: "domain", def: []string{"localhost"}, repeat: true, help: "a domain to accept mail for (repeatable; comma-separated in env)", set: list(setDomains)},
	{name: "store", help: "shared database of several nodes: postgres://USER@HOST:PORT/DB?sslmode=... (default: the bbolt file in the data folder)", set: str(func(c *Config) *string { return &c.Store })},
	{name: "store-direct", help: "when store goes through a pooler in transaction mode (PgBouncer): a URL of the same database that bypasses it, for LISTEN and migrations", set: str(func(c *Config) *string { return &c.StoreDirect })},
	{name: "store-log-size", def: []string{"64MiB"}, help: "bbolt: size of each of the two write-ahead log files (written with zeros ahead of the records; a checkpoint starts at half); at least 1MiB", set: size(func(c *Config) *int64 { return &c.StoreLogSize })},
	{name: "store-checkpoint-interval", def: []string{"2s"}, help: "bbolt: a checkpoint starts once the oldest logged write not in the database file is this old", set: duration(func(c *Config) *time.Duration { return &c.StoreCheckpoint })},
	{name: "gc-percent", def: []string{"400"}, help: "the daemon's garbage collector target (GOGC): a collection once the heap has grown this many percent over what was live; at least 25; the GOGC environment variable wins", set: gcPercent},
	{name: "memory-limit", def: []string{"512MiB"}, help: "the daemon's soft memory limit (GOMEMLIMIT): past it the garbage collector runs more often whatever gc-percent says; at least 64MiB; the GOMEMLIMIT environment variable wins (GOMEMLIMIT=off: none)", set: memoryLimit},
	{name: "hostname", def: []string{hostname()}, help: "this host's name in the SMTP greeting and Received headers", set: str(func(c *Config) *string { return &c.Hostname })},
	{name: "max-message-bytes", def: []string{"25MiB"}, help: "largest message accepted (announced in EHLO SIZE)", set: size(func(c *Config) *int64 { return &c.MaxMessageBytes })},
	{name: "max-header-bytes", def: []string{"256KiB"}, help: "largest header block accepted", set: size(func(c *Config) *int64 { return &c.MaxHeaderBytes })},
	{name: "max-recipients", def: []string{"100"}, help: "recipients per message", set: integer(func(c *Config) *int { return &c.MaxRecipients })},
	{name: "max-line-bytes", def: []string{"65536"}, help: "longest command or message line", set: integer(func(c *Config) *int { return &c.MaxLineBytes })},
	{name: "read-timeout", def: []string{"5m"}, help: "idle time allowed between client lines", set: duration(func(c *Config) *time.Duration { return &c.ReadTimeout })},
	{name: "write-timeout", def: []string{"5m"}, help: "time allowed to write a reply", set: duration(func(c *Config) *time.Duration { return &c.WriteTimeout })},
	{name: "session-timeout", def: []string{"30m"}, help: "whole-session deadline of an SMTP/LMTP connection", set: duration(func(c *Config) *time.Duration { return &c.SessionTimeout })},
	{name: "max-connections", def: []string{"500"}, help: "open SMTP+LMTP connections, all clients", set: integer(func(c *Config) *int { return &c.MaxConns })},
	{name: "max-connections-per-ip", def: []string{"20"}, help: "open connections from one IP address", set: integer(func(c *Config) *int { return &c.MaxConnsPerIP })},
	{name: "tls-cert", help: "PEM certificate for STARTTLS", set: str(func(c *Config) *string { return &c.TLSCert })},
	{name: "tls-key", help: "PEM private key for STARTTLS", set: str(func(c *Config) *string { return &c.TLSKey })},
	{name: "tls-self-signed", def: []string{"false"}, isBool: true, help: "offer STARTTLS with a throwaway self-signed certificate (testing only)", set: boolean(func(c *Config) *bool { return &c.TLSSelfSigned })},
	{name: "api-token", help: "Bearer token of the HTTP API (default: generated into DATA/api-token)", set: str(func(c *Config) *string { return &c.APIToken })},
	{name: "retention", def: []string{"72h"}, help: "how long the incoming/outgoing log is kept", set: duration(func(c *Config) *time.Duration { return &c.Retention })},
	{name: "shutdown-timeout", def: []string{"30s"}, help: "how long sessions in a transaction may take to finish on shutdown", set: duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{name: "log-level", def: []string{"info"}, help: "debug, info, warn or error", set: oneOf([]string{"debug", "info", "warn", "error"}, func(c *Config) *string { return &c.LogLevel })},
	{name: "log-format", def: []string{"text"}, help: "text or json", set: oneOf([]string{"text", "json"}, func(c *Config) *string { return &c.LogFormat })},

	// threading and sender checks
	{name: "support-address", repeat: true, help: `address that opens a new conversation (repeatable; default support@ each domain; "none" for no such address)`, set: list(setAddresses)},
	{name: "reply-domain", help: "domain of reply+TOKEN addresses (default the first domain)", set: str(func(c *Config) *string { return &c.ReplyDomain })},
	{name: "trusted-relay", repeat: true, help: "IP or CIDR whose mail counts as authenticated, e.g. your own MTA in front of deskmail (repeatable)", set: prefixes(func(c *Config) *[]netip.Prefix { return &c.TrustedRelays })},
	{name: "forwarder-ip", repeat: true, help: "IP or CIDR of a forwarder (Gmail, Microsoft 365) whose Authentication-Results are trusted (repeatable)", set: prefixes(func(c *Config) *[]netip.Prefix { return &c.ForwarderIPs })},
	{name: "forwarder-authserv-id", repeat: true, help: "authserv-id of a forwarder's Authentication-Results (e.g. mx.google.com) trusted from forwarder-ip (repeatable)", set: lowerList(func(c *Config) *[]string { return &c.ForwarderIDs })},
	{name: "feedback-loops", repeat: true, help: "domain or address of a mailbox provider's feedback loop: its abuse reports (ARF), authenticated, suppress the address complained about (repeatable; others are recorded, not acted on)", set: list(setFeedbackLoops)},
	{name: "sender-mismatch", def: []string{"quarantine"}, help: "what to do with a reply whose sender fails the checks: quarantine or reject", set: oneOf([]string{"quarantine", "reject"}, func(c *Config) *string { return &c.SenderMismatch })},
	{name: "webhook-url", help: "URL the web app is told of new inbound messages at (POST, JSON); off when empty", set: str(func(c *Config) *string { return &c.WebhookURL })},
	{name: "cors-origins", repeat: true, help: "origin (https://app.example.com) whose pages may call the browser routes with a person token (repeatable; none by default)", set: list(setOrigins)},
	{name: "demo", def: []string{"false"}, isBool: true, help: "serve the demo messenger at /demo/ (evaluation only)", set: boolean(func(c *Config) *bool { return &c.Demo })},
	{name: "webhook-secret", help: "HMAC-SHA256 key of the webhook signature (default: generated into DATA/webhook-secret)", set: str(func(c *Config) *string { return &c.WebhookSecret })},
	// outbound and hold queue
	{name: "hold", def: []string{"60s"}, help: "how long a notification waits for a seen-ack before it is emailed", set: duration(func(c *Config) *time.Duration { return &c.Hold })},
	{name: "outbound", def: []string{"capture"}, help: "capture (write .eml files to DATA/outbox-capture), relay (through --relay; the default when --relay is set) or mx (direct)", set: oneOf([]string{"capture", "relay", "mx"}, func(c *Config) *string { return &c.Outbound })},
	{name: "relay", help: "smarthost host:port to send through; given alone, it makes --outbound relay", set: str(func(c *Config) *string { return &c.Relay })},
	{name: "relay-username", help: "AUTH PLAIN/LOGIN user at the relay (none: no AUTH)", set: str(func(c *Config) *string { return &c.RelayUsername })},
	{name: "relay-password", help: "AUTH password at the relay (prefer DESKMAIL_RELAY_PASSWORD)", set: str(func(c *Config) *string { return &c.RelayPassword })},
	{name: "relay-insecure", def: []string{"false"}, isBool: true, help: "talk to the relay without STARTTLS (loopback relays only)", set: boolean(func(c *Config) *bool { return &c.RelayInsecure })},
	{name: "outbound-allow-private", def: []string{"false"}, isBool: true, help: "let --outbound mx deliver to loopback, private, link-local and the daemon's own addresses", set: boolean(func(c *Config) *bool { return &c.OutboundAllowPrivate })},
	{name: "mail-from", help: "From address of outgoing email (default: notifications@ the outbound domain)", set: str(func(c *Config) *string { return &c.MailFrom })},
	{name: "role-forward", help: "address that gets a copy of every email to postmaster@ or abuse@ (an operator's mailbox elsewhere); empty: they are kept and shown in the log only", set: str(func(c *Config) *string { return &c.RoleForward })},
	{name: "mail-from-name", def: []string{"Helpdesk"}, help: "display name of the From address", set: str(func(c *Config) *string { return &c.MailFromName })},
	{name: "outbound-domain", help: "domain of outgoing Message-IDs and bounce+ID addresses (default: the first --domain); replies use reply-domain", set: str(func(c *Config) *string { return &c.OutboundDomain })},
	{name: "max-age", def: []string{"120h"}, help: "how long an email is retried after temporary failures before it fails", set: duration(func(c *Config) *time.Duration { return &c.MaxAge })},
	{name: "retry-base", def: []string{"1m"}, help: "first retry delay; doubled per attempt up to 2h, with jitter", set: duration(func(c *Config) *time.Duration { return &c.RetryBase })},
	{name: "queue-concurrency", def: []string{"8"}, help: "emails delivered at once", set: integer(func(c *Config) *int { return &c.QueueConcurrency })},
	{name: "dest-concurrency", def: []string{"2"}, help: "emails delivered at once to one recipient domain", set: integer(func(c *Config) *int { return &c.DestConcurrency })},
	{name: "suppress-after", def: []string{"2"}, help: "hard bounces that suppress an address until cleared", set: integer(func(c *Config) *int { return &c.SuppressAfter })},
	{name: "suppress-transient-after", def: []string{"5"}, help: "transient failures (4.x.x reports, a full mailbox) of one address within suppress-transient-window that suppress it until cleared", set: integer(func(c *Config) *int { return &c.TransientSuppressAfter })},
	{name: "suppress-transient-window", def: []string{"168h"}, help: "the window in which suppress-transient-after transient failures are counted", set: duration(func(c *Config) *time.Duration { return &c.TransientWindow })},
	{name: "loop-conversation-cap", def: []string{strconv.Itoa(loopguard.DefaultConversationCap)}, help: "messages from one external address into one conversation within 30 minutes, with no reply by a person in between, before further ones are held (ping-pong cap; 0: off)", set: limit(func(c *Config) *int { return &c.ConversationCap })},
	{name: "loop-recipient-cap", def: []string{strconv.Itoa(loopguard.DefaultRecipientCap)}, help: "automatic emails deskmail sends to one external address per hour; further ones are not sent (loop cap; 0: off)", set: limit(func(c *Config) *int { return &c.RecipientCap })},
	{name: "dkim-key", repeat: true, help: "PEM private key (RSA or Ed25519) to DKIM-sign outgoing email; repeat it to sign with each (an RSA and an Ed25519 key, RFC 8463); see deskmail dkim keygen", set: plainList(func(c *Config) *[]string { return &c.DKIMKeys })},
	{name: "dkim-selector", repeat: true, def: []string{"deskmail"}, help: "DKIM selector of each dkim-key, in the same order (the DNS record is SELECTOR._domainkey.DOMAIN)", set: plainList(func(c *Config) *[]string { return &c.DKIMSelectors })},
	// inbound pipeline
	{name: "dns", help: "DNS resolver HOST:PORT for the sender checks and MX lookups (default: the system's, from /etc/resolv.conf)", set: str(func(c *Config) *string { return &c.DNS })},
	{name: "dns-cache", def: []string{"10000"}, help: "DNS answers kept in the daemon (one per name and type; positive ones at most 1 h, negative ones at most 5 min), 1 to 1000000", set: dnsCacheSize},
	{name: "dns-budget", def: []string{"10s"}, help: "time all the DNS lookups of one inbound email may take; then they count as temperror", set: duration(func(c *Config) *time.Duration { return &c.DNSBudget })},
	{name: "pipeline-workers", def: []string{"32"}, help: "inbound emails processed at once (parse, sender checks) before their commit", set: integer(func(c *Config) *int { return &c.PipelineWorkers })},
	{name: "pipeline-yield", def: []string{"0"}, help: "while SMTP/LMTP/HTTP clients are delivering, the pipeline processes only pipeline-yield-workers emails at once and leaves the CPU to the accepts; no email waits longer than this for it (0: off, the default)", set: durationOff(func(c *Config) *time.Duration { return &c.PipelineYield })},
	{name: "pipeline-yield-workers", def: []string{"2"}, help: "inbound emails processed at once while the pipeline yields to accepts (see pipeline-yield; at least 1)", set: integer(func(c *Config) *int { return &c.PipelineYieldWorkers })},
	{name: "max-pending", def: []string{"10000"}, help: "stored emails waiting to be processed past which new mail gets 451 4.3.2", set: integer(func(c *Config) *int { return &c.MaxPending })},
	{name: "fetch", repeat: true, help: "an IMAP mailbox to fetch mail from: imaps://USER@HOST[:PORT]/MAILBOX, or imap://... with STARTTLS (repeatable; the password in the URL is for tests: use [[fetch]] tables in the config file with password_file or OAuth2, see docs/FETCH.md)", set: list(setFetchURLs)},
	{name: "max-pending-bytes", def: []string{"2GiB"}, help: "bytes of stored emails waiting to be processed past which new mail gets 451 4.3.2", set: size(func(c *Config) *int64 { return &c.MaxPendingBytes })},
}

// Names lists every setting, for docs and tests.
func Names() []string {
	n := make([]string, len(options))
	for i, o := range options {
		n[i] = o.name
	}
	return n
}

// EnvName is the environment variable of a setting.
func EnvName(name string) string {
	return "DESKMAIL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// setAddresses reads support-address: nil means "the default", an explicit
// "none" means no support address at all.
func setAddresses(c *Config, v []string) error {
	c.SupportAddresses = nil
	for _, a := range v {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "none" {
			c.SupportAddresses = []string{}
			continue
		}
		at := strings.LastIndexByte(a, '@')
		if at <= 0 || at == len(a)-1 || strings.ContainsAny(a, " <>,;") {
			return fmt.Errorf("%q is not an email address", a)
		}
		c.SupportAddresses = append(c.SupportAddresses, a)
	}
	return nil
}

// setFeedbackLoops reads feedback-loops: each a domain (fbl.example.net)
// or an address (fbl@example.net), lower case.
func setFeedbackLoops(c *Config, v []string) error {
	c.FeedbackLoops = nil
	for _, s := range v {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "" {
			continue
		}
		dom := s[strings.LastIndexByte(s, '@')+1:]
		if dom == "" || strings.HasPrefix(s, "@") || strings.ContainsAny(s, " <>,;\"") || !strings.Contains(dom, ".") {
			return fmt.Errorf("%q is neither a domain nor an email address", s)
		}
		c.FeedbackLoops = append(c.FeedbackLoops, s)
	}
	return nil
}

// prefixes reads IPs and CIDRs; a bare IP is a /32 (or /128).
func prefixes(field func(*Config) *[]netip.Prefix) func(*Config) pflag.Value {
	return list(func(c *Config, v []string) error {
		var out []netip.Prefix
		for _, s := range v {
			s = strings.TrimSpace(s)
			if p, err := netip.ParsePrefix(s); err == nil {
				out = append(out, p.Masked())
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return fmt.Errorf("%q is not an IP address or CIDR prefix", s)
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
		*field(c) = out
		return nil
	})
}

func plainList(field func(*Config) *[]string) func(*Config) pflag.Value {
	return list(func(c *Config, v []string) error {
		var out []string
		for _, s := range v {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		*field(c) = out
		return nil
	})
}

func lowerList(field func(*Config) *[]string) func(*Config) pflag.Value {
	return list(func(c *Config, v []string) error {
		var out []string
		for _, s := range v {
			if s = strings.ToLower(strings.TrimSpace(s)); s != "" {
				out = append(out, s)
			}
		}
		*field(c) = out
		return nil
	})
}
