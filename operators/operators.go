package operators

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/deskmail/deskmail/store"
)

// Operator accounts live in the store (bucket console_operators, name ->
// Operator as JSON), written through *store.Tx like every domain record,
// so they follow the data to whichever backend holds it.
const bOperators = "console_operators"

// Roles. A viewer reads every page; only an admin changes anything.
const (
	RoleAdmin  = "admin"
	RoleViewer = "viewer"
)

// Limits of an account.
const (
	MinPasswordBytes = 10
	// MaxPasswordBytes is bcrypt's limit: it ignores what follows.
	MaxPasswordBytes = 72
	MaxOperators     = 1000
)

// HashCost is the bcrypt cost of new password hashes (tests lower it).
var HashCost = 12

// Errors. Compare with errors.Is.
var (
	ErrNoOperator = errors.New("no such operator")
	ErrExists     = errors.New("an operator of that name exists")
	ErrBadLogin   = errors.New("wrong user name or password")
)

// InputError is a refused operator field: which one, and why.
type InputError struct{ Field, Msg string }

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Operator is a console account.
type Operator struct {
	Name     string    `json:"name"`
	Role     string    `json:"role"`
	Hash     []byte    `json:"hash,omitempty"`
	Created  time.Time `json:"created"`
	Password time.Time `json:"password_changed"`
}

var operatorName = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)

// CheckPassword refuses a password bcrypt cannot hash whole, or one too
// short to resist guessing.
func CheckPassword(p string) error {
	switch {
	case len(p) < MinPasswordBytes:
		return &InputError{"password", fmt.Sprintf("at least %d bytes", MinPasswordBytes)}
	case len(p) > MaxPasswordBytes:
		return &InputError{"password", fmt.Sprintf("at most %d bytes", MaxPasswordBytes)}
	}
	return nil
}

// Check refuses an account name or role the store would not take.
func Check(name, role string) error {
	if !operatorName.MatchString(name) {
		return &InputError{"name", "1-64 lowercase letters, digits, '.', '_', '@' or '-', starting with a letter or digit"}
	}
	if role != RoleAdmin && role != RoleViewer {
		return &InputError{"role", "admin or viewer"}
	}
	return nil
}

// HashPassword hashes p for AddOperator and SetPassword. It is slow on
// purpose: call it before the transaction, never inside one.
func HashPassword(p string) ([]byte, error) {
	if err := CheckPassword(p); err != nil {
		return nil, err
	}
	return bcrypt.GenerateFromPassword([]byte(p), HashCost)
}

// AddOperator creates an account with a hash from HashPassword.
func AddOperator(tx *store.Tx, name, role string, hash []byte, now time.Time) (Operator, error) {
	if err := Check(name, role); err != nil {
		return Operator{}, err
	}
	if tx.Get(bOperators, []byte(name)) != nil {
		return Operator{}, fmt.Errorf("%w: %s", ErrExists, name)
	}
	if tx.Count(bOperators) >= MaxOperators {
		return Operator{}, &InputError{"name", fmt.Sprintf("at most %d operators", MaxOperators)}
	}
	o := Operator{Name: name, Role: role, Hash: hash, Created: now, Password: now}
	return o, putOperator(tx, o)
}

func putOperator(tx *store.Tx, o Operator) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	return tx.Put(bOperators, []byte(o.Name), b)
}

// GetOperator returns one account.
func GetOperator(tx *store.Tx, name string) (Operator, error) {
	var o Operator
	b := tx.Get(bOperators, []byte(name))
	if b == nil {
		return o, fmt.Errorf("%w: %s", ErrNoOperator, name)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, fmt.Errorf("decode operator %s: %w", name, err)
	}
	return o, nil
}

// Operators lists the accounts by name, without their hashes.
func Operators(tx *store.Tx) ([]Operator, error) {
	out := []Operator{}
	err := tx.Scan(bOperators, nil, func(_, v []byte) (bool, error) {
		var o Operator
		if err := json.Unmarshal(v, &o); err != nil {
			return false, err
		}
		o.Hash = nil
		out = append(out, o)
		return true, nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// RemoveOperator deletes an account and ends its sessions.
func RemoveOperator(tx *store.Tx, name string) error {
	if _, err := GetOperator(tx, name); err != nil {
		return err
	}
	if err := endSessions(tx, name); err != nil {
		return err
	}
	return tx.Delete(bOperators, []byte(name))
}

// SetPassword replaces an account's hash and ends its sessions, so a
// stolen session dies with the old password.
func SetPassword(tx *store.Tx, name string, hash []byte, now time.Time) error {
	o, err := GetOperator(tx, name)
	if err != nil {
		return err
	}
	o.Hash, o.Password = hash, now
	if err := endSessions(tx, name); err != nil {
		return err
	}
	return putOperator(tx, o)
}

// dummyHash is compared against when the user does not exist, so a
// login takes as long for an unknown name as for a wrong password.
var (
	dummyOnce sync.Once
	dummyHash []byte
)

// Verify checks a name and password against the account read in o (ok
// false when the account does not exist). It runs outside transactions.
func Verify(o Operator, found bool, password string) bool {
	if !found {
		dummyOnce.Do(func() { dummyHash, _ = bcrypt.GenerateFromPassword([]byte("deskmail-no-such-operator"), HashCost) })
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword(o.Hash, []byte(password)) == nil
}
