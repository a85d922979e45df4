package config

import (
	"fmt"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/deskmail/deskmail/fetch"
	"github.com/deskmail/deskmail/inbound"
)

// The mailboxes to fetch come from two places: --fetch URL (flag,
// DESKMAIL_FETCH, or a fetch = [...] list of URLs) for a mailbox whose URL
// says everything, and [[fetch]] tables in the config file for the other
// settings (password_file, to, after, since, poll, OAuth2...). Both are
// fetched; check turns them into Config.Fetch.

func setFetchURLs(c *Config, v []string) error {
	c.fetchURLs = append([]string(nil), v...)
	return nil
}

// readFetchTables reads the [[fetch]] tables of the config file; a key
// the table does not know is an error, like any unknown key.
func readFetchTables(path string) ([]fetch.Settings, error) {
	var doc struct {
		Fetch []fetch.Settings `toml:"fetch"`
	}
	md, err := toml.DecodeFile(path, &doc)
	if err != nil {
		return nil, fmt.Errorf("config file %s: [[fetch]]: %w", path, err)
	}
	for _, k := range md.Undecoded() {
		if len(k) > 1 && k[0] == "fetch" {
			return nil, fmt.Errorf("config file %s: [[fetch]]: unknown key %q", path, k[len(k)-1])
		}
	}
	return doc.Fetch, nil
}

// checkFetch builds Config.Fetch; a mailbox's mail goes to the first
// support address unless its `to` says otherwise.
func (c *Config) checkFetch() error {
	defaultTo := ""
	if len(c.SupportAddresses) > 0 {
		defaultTo = c.SupportAddresses[0]
	}
	all := append([]fetch.Settings(nil), c.fetchTables...)
	for _, u := range c.fetchURLs {
		all = append(all, fetch.FromURL(u))
	}
	c.Fetch = nil
	names := map[string]bool{}
	for i, s := range all {
		m, err := s.Mailbox(defaultTo)
		if err != nil {
			return fmt.Errorf("fetch mailbox %d: %w", i+1, err)
		}
		// Mail fetched for m.To is threaded like mail received for it by
		// SMTP, which would refuse any other domain (same rule: case,
		// trailing dot, IDNA).
		if !inbound.NewDomains(c.Domains).Accepts(m.To) {
			return fmt.Errorf("fetch mailbox %d: to %q is not at one of the domains mail is accepted for (%s)", i+1, m.To, strings.Join(c.Domains, ", "))
		}
		m.To = strings.TrimSuffix(m.To, ".") // the form the support addresses are compared in
		if names[m.Name] {
			return fmt.Errorf("fetch mailbox %d: the name %q is taken by another mailbox: give each a name", i+1, m.Name)
		}
		names[m.Name] = true
		c.Fetch = append(c.Fetch, m)
	}
	return nil
}
