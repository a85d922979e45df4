// Package model is the helpdesk's data of SPEC section 1 in the store:
// people (users, customers, bots) with their addresses and settings,
// projects, items, conversations and their messages, in-app notifications,
// and the indexes threading needs (Message-ID and subject tag ->
// conversation, address -> person).
//
// Every function takes a *store.Tx, so a caller composes several changes
// into one commit (append a message, index its Message-ID, record its
// notifications). View adapts a transaction to the read interfaces that
// notify and threading declare.
package model

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// Errors. Compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
)

// FieldError names the field of a record that is not valid.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Buckets.
const (
	bPeople        = "people"
	bPeopleEmail   = "people_email"
	bUsersAllCust  = "users_all_customer_messages"
	bUsersAllReply = "users_all_replies"
	bProjects      = "projects"
	bItems         = "items"
	bConversations = "conversations"
	bConvTags      = "conversation_tags"
	bMessages      = "messages"
	bConvMessages  = "conversation_messages"
	bMessageIDs    = "message_ids"
	bNotifications = "notifications" // person \x00 message -> Notification
)

// idPattern: stable string IDs chosen by the web app (or made by deskmail):
// short, printable, safe in URLs and in reply tokens.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidID tells whether id is a valid record ID.
func ValidID(id string) bool { return idPattern.MatchString(id) }

func checkID(field, id string) error {
	if !ValidID(id) {
		return &FieldError{field, "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"}
	}
	return nil
}

func get(tx *store.Tx, bucket, id string, v any) error {
	b := tx.Get(bucket, []byte(id))
	if b == nil {
		return fmt.Errorf("%s %s: %w", strings.TrimSuffix(bucket, "s"), id, ErrNotFound)
	}
	return decodeRecord(b, v)
}

func put(tx *store.Tx, bucket, id string, v any) error {
	b, err := encodeRecord(v)
	if err != nil {
		return err
	}
	return tx.Put(bucket, []byte(id), b)
}

// NormalizeEmail is the form addresses are looked up in: trimmed, lower
// case (local parts are case-insensitive in practice, RFC 5321 notwithstanding).
func NormalizeEmail(addr string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(addr), "<>"))
}

func validEmail(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	return at > 0 && at < len(addr)-1 && len(addr) <= 254 && !strings.ContainsAny(addr, " \t\r\n,;<>\"")
}

// Person is a user (agent), a customer or a bot.
type Person struct {
	ID       string          `json:"id"`
	Kind     notify.Kind     `json:"kind"`
	Name     string          `json:"name"`
	Emails   []string        `json:"emails"`
	Settings notify.Settings `json:"settings"`
	Created  time.Time       `json:"created"`
	// Unverified: made from an email whose From was not authenticated.
	// Such a person is sent no system or automated email until an agent
	// writes in a conversation they opened (see trust.go); kept when the
	// person is replaced without it.
	Unverified bool `json:"unverified,omitempty"`
}

// Validate checks a person record.
func (p *Person) Validate() error {
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if err := p.Kind.Validate(); err != nil {
		return &FieldError{"kind", "must be user, customer or bot"}
	}
	if len(p.Name) > 200 {
		return &FieldError{"name", "at most 200 bytes"}
	}
	if len(p.Emails) > 20 {
		return &FieldError{"emails", "at most 20 addresses"}
	}
	for i, e := range p.Emails {
		p.Emails[i] = NormalizeEmail(e)
		if !validEmail(p.Emails[i]) {
			return &FieldError{"emails", fmt.Sprintf("%q is not an email address", e)}
		}
	}
	if err := p.Settings.Validate(); err != nil {
		var fe *notify.FieldError
		if errors.As(err, &fe) {
			return &FieldError{"settings." + fe.Field, err.Error()}
		}
		return &FieldError{"settings", err.Error()}
	}
	return nil
}

// PutPerson creates or replaces a person. An address that belongs to
// another person is a conflict.
func PutPerson(tx *store.Tx, p Person) error { return putPerson(tx, p, false) }

// putPerson is PutPerson; fresh: p.ID is a fresh store.NewID, under which
// nothing can be stored yet: no old record to read, no index key to
// delete.
func putPerson(tx *store.Tx, p Person, fresh bool) error {
	if err := p.Validate(); err != nil {
		return err
	}
	tx.Need(PersonLock(p.ID))
	for _, e := range p.Emails {
		tx.Need(AddressLock(e))
	}
	var old Person
	if !fresh && get(tx, bPeople, p.ID, &old) == nil {
		if p.Created.IsZero() {
			p.Created = old.Created
		}
		p.Unverified = p.Unverified || old.Unverified
		for _, e := range old.Emails {
			tx.Need(AddressLock(e))
			if err := tx.Delete(bPeopleEmail, []byte(e)); err != nil {
				return err
			}
		}
	}
	for _, e := range p.Emails {
		if owner := tx.Get(bPeopleEmail, []byte(e)); owner != nil && string(owner) != p.ID {
			return fmt.Errorf("%w: %s belongs to %s", ErrConflict, e, owner)
		}
		if err := tx.Put(bPeopleEmail, []byte(e), []byte(p.ID)); err != nil {
			return err
		}
	}
	// The small indexes notify reads instead of scanning every person.
	isUser := p.Kind == notify.KindUser
	if in := isUser && p.Settings.FromCustomers == notify.FromCustomersAll; in || !fresh {
		if err := setIndex(tx, bUsersAllCust, p.ID, in); err != nil {
			return err
		}
	}
	if in := isUser && p.Settings.FromUsers == notify.FromUsersAll; in || !fresh {
		if err := setIndex(tx, bUsersAllReply, p.ID, in); err != nil {
			return err
		}
	}
	if err := indexStaffName(tx, old, p); err != nil {
		return err
	}
	return put(tx, bPeople, p.ID, p)
}

func setIndex(tx *store.Tx, bucket, id string, in bool) error {
	if in {
		return tx.Put(bucket, []byte(id), nil)
	}
	return tx.Delete(bucket, []byte(id))
}

// GetPerson returns a person.
func GetPerson(tx *store.Tx, id string) (Person, error) {
	var p Person
	return p, get(tx, bPeople, id, &p)
}

// PersonByEmail finds the owner of an address, case-insensitively. In a
// write it needs the address's lock (AddressLock): an address nobody owns
// is one a write may give to a new person.
func PersonByEmail(tx *store.Tx, addr string) (Person, error) {
	tx.Need(AddressLock(addr))
	id := tx.Get(bPeopleEmail, []byte(NormalizeEmail(addr)))
	if id == nil {
		return Person{}, fmt.Errorf("address %s: %w", addr, ErrNotFound)
	}
	return GetPerson(tx, string(id))
}

// Project has followers (users).
type Project struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Followers []string `json:"followers"`
}

// PutProject creates or replaces a project.
func PutProject(tx *store.Tx, p Project) error {
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if err := checkPeople(tx, "followers", p.Followers); err != nil {
		return err
	}
	return put(tx, bProjects, p.ID, p)
}

// GetProject returns a project.
func GetProject(tx *store.Tx, id string) (Project, error) {
	var p Project
	return p, get(tx, bProjects, id, &p)
}

// Item is a ticket or task of a project.
type Item struct {
	ID        string   `json:"id"`
	Project   string   `json:"project"`
	Title     string   `json:"title"`
	Followers []string `json:"followers"`
	Assignees []string `json:"assignees"`
}

// PutItem creates or replaces an item.
func PutItem(tx *store.Tx, it Item) error {
	if err := checkID("id", it.ID); err != nil {
		return err
	}
	if _, err := GetProject(tx, it.Project); err != nil {
		return &FieldError{"project", "no such project"}
	}
	if len(it.Title) > 500 {
		return &FieldError{"title", "at most 500 bytes"}
	}
	if err := checkPeople(tx, "followers", it.Followers); err != nil {
		return err
	}
	if err := checkPeople(tx, "assignees", it.Assignees); err != nil {
		return err
	}
	return put(tx, bItems, it.ID, it)
}

// GetItem returns an item.
func GetItem(tx *store.Tx, id string) (Item, error) {
	var it Item
	return it, get(tx, bItems, id, &it)
}

func checkPeople(tx *store.Tx, field string, ids []string) error {
	if len(ids) > 10000 {
		return &FieldError{field, "at most 10000 people"}
	}
	for _, id := range ids {
		if tx.Get(bPeople, []byte(id)) == nil {
			return &FieldError{field, "no such person: " + id}
		}
	}
	return nil
}

func addUnique(list []string, id string) ([]string, bool) {
	for _, x := range list {
		if x == id {
			return list, false
		}
	}
	return append(list, id), true
}

func init() {
	store.KnownSequences(bConvTags)
	// A tag is its sequence's value plus 1000 (PutConversation), declared
	// new: the store keeps the sequence ahead of the stored tags should an
	// import bring it in behind them.
	store.SequenceKeys(bConvTags, func(k []byte) (uint64, bool) {
		n, err := strconv.ParseUint(string(k), 10, 64)
		return n - 1000, err == nil && n > 1000
	})
}
