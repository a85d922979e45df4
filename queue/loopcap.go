package queue

import (
	"time"

	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

// allowRecipient applies the per-recipient cap on automatic emails
// (loopguard.RecipientCap) to an email to addr for a person of kind
// ("" when unknown), written from
// template ("" for notification emails). It reports whether the email may
// go, and why not. The organisation's own users are not capped (they are
// not the other end of a loop, and a busy agent may be notified of many
// conversations in an hour), nor is a password reset, which a person asked
// for and which can never be switched off.
func allowRecipient(tx *store.Tx, c loopguard.RecipientCap, kind notify.Kind, addr, template string, now time.Time) (bool, string, error) {
	if c.Max <= 0 || template == templates.PasswordReset || kind == notify.KindUser {
		return true, "", nil
	}
	tx.Need(model.AddressLock(addr))
	return c.Allow(tx, addr, now)
}

// personKind is the kind of person id, "" when there is none.
func personKind(tx *store.Tx, id string) notify.Kind {
	if id == "" {
		return ""
	}
	p, err := model.GetPerson(tx, id)
	if err != nil {
		return ""
	}
	return p.Kind
}
