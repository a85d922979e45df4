package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/fetch"
)

func init() { subcommands = append(subcommands, newFetchCmd) }

func newFetchCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "fetch", Short: "IMAP mailboxes deskmail fetches mail from (see docs/FETCH.md)",
		Example: "  deskmail fetch test m365 --config /etc/deskmail.toml\n" +
			"  deskmail fetch authorize m365 --config /etc/deskmail.toml"}
	test := &cobra.Command{
		Use:   "test NAME|URL",
		Short: "Connect, sign in and say what would be fetched, changing nothing",
		Long: "Connect to a mailbox of the configuration (by its name) or to an\n" +
			"imaps://USER@HOST/MAILBOX URL, sign in as the daemon would, open the folder\n" +
			"read-only and say how many messages a first run would fetch. Nothing on\n" +
			"the server changes: no flag, no move, no folder created.",
		Example: "  deskmail fetch test hosted --config /etc/deskmail.toml\n" +
			"  deskmail fetch test 'imap://desk:secret@127.0.0.1:1143/INBOX'   # a test server on loopback",
		Args: cobra.ExactArgs(1),
	}
	// The settings that shape a mailbox: the config file, the domains
	// (the default `to`), the size limit.
	testLoader := config.Register(test.Flags(), "domain", "support-address", "max-message-bytes", "fetch")
	test.RunE = func(cmd *cobra.Command, args []string) error {
		cfg, m, err := loadMailbox(testLoader, args[0])
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
		defer cancel()
		return fetch.Probe(ctx, m, cfg.MaxMessageBytes, cmd.OutOrStdout())
	}
	var loopback bool
	authorize := &cobra.Command{
		Use:   "authorize NAME",
		Short: "Sign in once at the mailbox's OAuth2 provider and keep the refresh token",
		Long: "Walk through the provider's sign-in for the [[fetch]] mailbox NAME (device\n" +
			"code flow for Microsoft; a browser and a redirect to 127.0.0.1 for Google\n" +
			"or with --loopback) and write the refresh token to its refresh_token_file.",
		Example: "  deskmail fetch authorize m365 --config /etc/deskmail.toml\n" +
			"  deskmail fetch authorize gmail --config /etc/deskmail.toml   # prints a URL to open on this machine",
		Args: cobra.ExactArgs(1),
	}
	authorize.Flags().BoolVar(&loopback, "loopback", false, "use a browser and a redirect to 127.0.0.1 instead of the device code")
	authLoader := config.Register(authorize.Flags(), "domain", "support-address")
	authorize.RunE = func(cmd *cobra.Command, args []string) error {
		_, m, err := loadMailbox(authLoader, args[0])
		if err != nil {
			return err
		}
		if m.Settings.OAuth2Provider == "" {
			return fmt.Errorf("mailbox %s signs in without OAuth2: nothing to authorize", m.Name)
		}
		ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, 15*time.Minute)
		defer cancel()
		return fetch.Authorize(ctx, m.Settings, loopback, cmd.OutOrStdout())
	}
	cmd.AddCommand(test, authorize)
	return cmd
}

// loadMailbox loads the settings and picks the mailbox arg names.
func loadMailbox(l *config.Loader, arg string) (*config.Config, *fetch.Mailbox, error) {
	cfg, err := l.Load(os.Environ())
	if err != nil {
		return nil, nil, err
	}
	m, err := pickMailbox(cfg, arg)
	return cfg, m, err
}

// pickMailbox finds NAME among the configured mailboxes, or reads a URL.
func pickMailbox(cfg *config.Config, arg string) (*fetch.Mailbox, error) {
	for _, m := range cfg.Fetch {
		if m.Name == arg {
			return m, nil
		}
	}
	if strings.Contains(arg, "://") {
		to := ""
		if len(cfg.SupportAddresses) > 0 {
			to = cfg.SupportAddresses[0]
		}
		return fetch.FromURL(arg).Mailbox(to)
	}
	var names []string
	for _, m := range cfg.Fetch {
		names = append(names, m.Name)
	}
	return nil, fmt.Errorf("no mailbox named %q in the configuration (have: %s); give its name or an imaps:// URL", arg, strings.Join(names, ", "))
}
