package operators

import (
	"time"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// The account actions of `deskmail operators`, the same whether the CLI
// runs them offline on the data folder or the daemon runs them for it
// (Admin, on the control socket). Each writes its audit record in the
// same commit; actor is who asked ("cli" for the command line).

// AddAccount creates the account with a hash from HashPassword.
func AddAccount(tx *store.Tx, name, role string, hash []byte, actor string, now time.Time) (Operator, error) {
	o, err := AddOperator(tx, name, role, hash, now)
	if err != nil {
		return o, err
	}
	o.Hash = nil
	return o, Audit(tx, actor, now, "operator.add", name, "role "+role, "local")
}

// RemoveAccount deletes the account and its sessions.
func RemoveAccount(tx *store.Tx, name, actor string, now time.Time) error {
	if err := RemoveOperator(tx, name); err != nil {
		return err
	}
	return Audit(tx, actor, now, "operator.remove", name, "", "local")
}

// ChangePassword sets a new hash and ends the account's sessions.
func ChangePassword(tx *store.Tx, name string, hash []byte, actor string, now time.Time) error {
	if err := SetPassword(tx, name, hash, now); err != nil {
		return err
	}
	return Audit(tx, actor, now, "operator.passwd", name, "", "local")
}

// AccountInput is the body of POST /v1/operators and of the password PUT.
type AccountInput struct {
	Name     string `json:"name,omitempty"`
	Role     string `json:"role,omitempty"`
	Password string `json:"password"`
}

// Audit records an account action in the audit trail, in tx (the console
// records its own actions with it too).
func Audit(tx *store.Tx, actor string, now time.Time, action, target, detail, ip string) error {
	return journal.AppendAudit(tx, &journal.Audit{Time: now, Actor: actor, Action: action, Target: target, Detail: detail, IP: ip})
}
