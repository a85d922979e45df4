package config

import (
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/deskmail/deskmail/inbound"
)

// check validates combinations of settings and fills the defaults that
// depend on other settings.
func (c *Config) check() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("tls-cert and tls-key: give both or neither")
	}
	if c.Data == "" {
		return fmt.Errorf("data: must not be empty")
	}
	if c.StoreDirect != "" && (!isPostgres(c.Store) || !isPostgres(c.StoreDirect)) {
		return fmt.Errorf("store-direct: give it with store, both postgres:// URLs of one database (store through the pooler, store-direct straight to PostgreSQL)")
	}
	if c.StoreLogSize < 1<<20 {
		return fmt.Errorf("store-log-size: %d bytes is below the minimum 1MiB", c.StoreLogSize)
	}
	if c.StoreCheckpoint <= 0 || c.StoreCheckpoint > time.Hour {
		return fmt.Errorf("store-checkpoint-interval: %s is out of range (more than 0, at most 1h)", c.StoreCheckpoint)
	}
	if err := c.checkRelay(); err != nil {
		return err
	}
	if err := c.checkDKIM(); err != nil {
		return err
	}
	if err := c.checkRoleForward(); err != nil {
		return err
	}
	if c.OutboundDomain == "" && len(c.Domains) > 0 {
		c.OutboundDomain = c.Domains[0]
	}
	if c.MailFrom == "" {
		c.MailFrom = "notifications@" + c.OutboundDomain
	}
	if c.MaxHeaderBytes > c.MaxMessageBytes {
		// The header is part of the message: a smaller message cap is
		// also the header cap.
		c.MaxHeaderBytes = c.MaxMessageBytes
	}
	if err := c.checkThreading(); err != nil {
		return err
	}
	return c.checkFetch()
}

// checkRoleForward refuses a copy address that is not one address, or is
// one of ours: the copy would come back as mail to deskmail.
func (c *Config) checkRoleForward() error {
	if c.RoleForward == "" {
		return nil
	}
	a, err := mail.ParseAddress(c.RoleForward)
	if err != nil {
		return fmt.Errorf("role-forward: %q is not an email address", c.RoleForward)
	}
	c.RoleForward = a.Address
	// The SMTP server's own rule (case, trailing dot, IDNA): an address
	// it would accept would bring the copy back.
	if inbound.NewDomains(c.Domains).Accepts(a.Address) {
		return fmt.Errorf("role-forward: %s is of one of deskmail's own domains (%s); give an operator's mailbox elsewhere", a.Address, strings.Join(c.Domains, ", "))
	}
	return nil
}

// checkDKIM pairs each dkim-key with its selector: one key may use the
// default selector; several need one selector each, all different.
func (c *Config) checkDKIM() error {
	if len(c.DKIMKeys) == 0 {
		return nil
	}
	if len(c.DKIMSelectors) != len(c.DKIMKeys) {
		return fmt.Errorf("dkim-selector: give one per dkim-key, in the same order (%d keys, %d selectors: %s)",
			len(c.DKIMKeys), len(c.DKIMSelectors), strings.Join(c.DKIMSelectors, ", "))
	}
	seen := map[string]bool{}
	for _, s := range c.DKIMSelectors {
		if seen[strings.ToLower(s)] {
			return fmt.Errorf("dkim-selector: %s given twice; each key needs its own DNS record", s)
		}
		seen[strings.ToLower(s)] = true
	}
	return nil
}

// from says where a setting was set, for errors: "flag --relay",
// "environment variable DESKMAIL_RELAY", "config file F: key "relay"", or
// "its default".
func (c *Config) from(name string) string {
	if s, ok := c.sources[name]; ok {
		return s
	}
	return "its default"
}

// checkRelay decides the outbound mode. A relay given alone means relay
// mode: an operator who names a smarthost wants mail to go through it,
// and capturing instead would lose every email silently. Any other
// combination that would leave a relay setting unused is refused, naming
// both settings and where each came from, rather than guessed at.
func (c *Config) checkRelay() error {
	_, outboundGiven := c.sources["outbound"]
	switch {
	case c.Relay != "" && !outboundGiven:
		c.Outbound = "relay"
	case c.Relay != "" && c.Outbound != "relay":
		why := "capture writes every email to a file and sends nothing"
		if c.Outbound == "mx" {
			why = "mx delivers to each domain's MX itself"
		}
		return fmt.Errorf("--outbound %s (from %s) and --relay (from %s) contradict each other: %s; set --outbound relay to send through the relay, or drop --relay",
			c.Outbound, c.from("outbound"), c.from("relay"), why)
	case c.Outbound == "relay" && c.Relay == "":
		return fmt.Errorf("--outbound relay (from %s) needs --relay host:port, the smarthost to send through", c.from("outbound"))
	}
	if c.Relay == "" {
		for _, s := range []struct {
			name string
			set  bool
		}{{"relay-username", c.RelayUsername != ""}, {"relay-password", c.RelayPassword != ""}, {"relay-insecure", c.RelayInsecure}} {
			if s.set {
				return fmt.Errorf("--%s (from %s) is for a relay, but --relay is not set (outbound is %s)", s.name, c.from(s.name), c.Outbound)
			}
		}
		return nil
	}
	if host, port, err := net.SplitHostPort(c.Relay); err != nil || host == "" || port == "" {
		return fmt.Errorf("--relay (from %s): %q is not host:port, such as smtp.example.com:587", c.from("relay"), c.Relay)
	}
	if (c.RelayUsername == "") != (c.RelayPassword == "") {
		return fmt.Errorf("--relay-username (from %s) and --relay-password (from %s): AUTH needs both, or neither for no AUTH",
			c.from("relay-username"), c.from("relay-password"))
	}
	return nil
}

// checkThreading fills the defaults that depend on the domains.
func (c *Config) checkThreading() error {
	if c.ReplyDomain == "" && len(c.Domains) > 0 {
		c.ReplyDomain = c.Domains[0]
	}
	c.ReplyDomain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(c.ReplyDomain)), ".")
	if !inbound.NewDomains(c.Domains).Accepts("reply@" + c.ReplyDomain) {
		// Replies to reply+TOKEN@ would be refused at RCPT as relaying.
		return fmt.Errorf("reply-domain: %q is not one of the domains mail is accepted for", c.ReplyDomain)
	}
	if c.SupportAddresses == nil {
		for _, d := range c.Domains {
			c.SupportAddresses = append(c.SupportAddresses, "support@"+d)
		}
	}
	if c.WebhookURL != "" && !strings.HasPrefix(c.WebhookURL, "http://") && !strings.HasPrefix(c.WebhookURL, "https://") {
		return fmt.Errorf("webhook-url: %q is not an http(s) URL", c.WebhookURL)
	}
	return nil
}

// isPostgres is store.IsPostgres (config does not import store).
func isPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}
