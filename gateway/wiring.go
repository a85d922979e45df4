package gateway

import (
	"encoding/hex"
	"path/filepath"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/threading"
	"github.com/deskmail/deskmail/webhook"
)

// WebhookSecretFile holds the generated webhook key when none is configured.
const WebhookSecretFile = "webhook-secret"

// threader builds the threading step and, when a webhook URL is
// configured, the queue's sender of its webhook jobs.
func (d *Daemon) threader(res auth.Resolver, clk clock.Clock) (*intake.Threader, *webhook.Sender, error) {
	cfg := d.cfg
	keys, err := threading.LoadOrCreateKeyring(cfg.Data)
	if err != nil {
		return nil, nil, err
	}
	t := &intake.Threader{
		Keyring: keys,
		Auth: &auth.Checker{Resolver: res, TrustedRelays: cfg.TrustedRelays,
			ForwarderIPs: cfg.ForwarderIPs, ForwarderIDs: cfg.ForwarderIDs, Budget: cfg.DNSBudget},
		Clock: clk,
		// Every domain of ours verifies tokens (the MAC is what protects
		// them), so replies to emails sent before a reply-domain change
		// still find their conversation.
		ReplyDomains:     cfg.Domains,
		SupportAddresses: cfg.SupportAddresses,
		Policy:           cfg.SenderMismatch,
	}
	if cfg.WebhookURL == "" {
		return t, nil, nil
	}
	secret := []byte(cfg.WebhookSecret)
	if len(secret) == 0 {
		// The hex text of the generated file is the key, so the web app
		// is configured by copying the file's content.
		k, err := intake.LoadOrCreateSecret(filepath.Join(cfg.Data, WebhookSecretFile))
		if err != nil {
			return nil, nil, err
		}
		secret = []byte(hex.EncodeToString(k))
	}
	t.Webhook = true
	return t, &webhook.Sender{URL: cfg.WebhookURL, Secret: secret, Clock: clk}, nil
}
