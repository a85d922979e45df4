package gateway

import (
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/threading"
)

// recipients is what the SMTP server accepts at RCPT (SPEC section 5): the
// support addresses, reply tokens that verify, the From address of our own
// email, postmaster and abuse, and the return paths of outgoing email.
func recipients(cfg *config.Config, t *intake.Threader) *threading.Addresses {
	return &threading.Addresses{Tokens: t.Keyring, ReplyDomains: t.ReplyDomains,
		Support: cfg.SupportAddresses, MailFrom: cfg.MailFrom,
		Bounce: func(addr string) bool { return queue.ParseVERP(addr) != "" }}
}
