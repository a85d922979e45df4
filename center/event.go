package center

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// Event types the web app reports.
const (
	UserCreated            = "user.created"
	PasswordResetRequested = "password.reset_requested"
	ItemCreated            = "item.created"
	ItemAssigned           = "item.assigned"
	ItemUnassigned         = "item.unassigned"
	ItemStatusChanged      = "item.status_changed"
	ItemClosed             = "item.closed"
	ProjectMemberAdded     = "project.member_added"
	ProjectInvited         = "project.invited"
)

// EventTypes lists every type.
var EventTypes = []string{UserCreated, PasswordResetRequested, ItemCreated, ItemAssigned, ItemUnassigned,
	ItemStatusChanged, ItemClosed, ProjectMemberAdded, ProjectInvited}

// Event is something that happened in the web app.
type Event struct {
	// ID is the idempotency key: an event with an ID seen before is not
	// handled again.
	ID      string `json:"id"`
	Type    string `json:"type"`
	Actor   string `json:"actor,omitempty"`   // the person who did it
	Person  string `json:"person,omitempty"`  // the user created, reset, (un)assigned, invited or added
	Team    string `json:"team,omitempty"`    // project.member_added: a team's name, instead of person
	Project string `json:"project,omitempty"` // project.*; item.* take the item's
	Item    string `json:"item,omitempty"`
	// Conversation is where an automation posts for an item event (its
	// default is the item's updates conversation, made on first use).
	Conversation string    `json:"conversation,omitempty"`
	Status       string    `json:"status,omitempty"` // item.status_changed, item.closed
	Link         string    `json:"link,omitempty"`   // the sign-in, reset or item link (http or https)
	Received     time.Time `json:"received,omitzero"`
}

// FieldError names the field of an event that is not valid.
type FieldError struct{ Field, Msg string }

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// Validate checks ev: the type is known and the fields it needs are set.
func (ev *Event) Validate() error {
	if !model.ValidID(ev.ID) {
		return &FieldError{"id", "required: 1-64 letters, digits, '.', '_' or '-' (the idempotency key)"}
	}
	if !slices.Contains(EventTypes, ev.Type) {
		return &FieldError{"type", "must be one of " + strings.Join(EventTypes, ", ")}
	}
	for _, f := range []struct{ name, v string }{{"actor", ev.Actor}, {"person", ev.Person}, {"project", ev.Project},
		{"item", ev.Item}, {"conversation", ev.Conversation}} {
		if f.v != "" && !model.ValidID(f.v) {
			return &FieldError{f.name, "not a valid ID"}
		}
	}
	if len(ev.Team) > 200 || len(ev.Status) > 100 || len(ev.Link) > 2048 {
		return &FieldError{"team", "team at most 200 bytes, status 100, link 2048"}
	}
	if ev.Link != "" {
		if u, err := url.Parse(ev.Link); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return &FieldError{"link", "must be an http or https URL"}
		}
	}
	need := func(field, v string) error {
		if v == "" {
			return &FieldError{field, "required for " + ev.Type}
		}
		return nil
	}
	var err error
	switch ev.Type {
	case UserCreated, PasswordResetRequested:
		err = need("person", ev.Person)
	case ItemAssigned, ItemUnassigned:
		if err = need("item", ev.Item); err == nil {
			err = need("person", ev.Person)
		}
	case ItemCreated, ItemStatusChanged, ItemClosed:
		err = need("item", ev.Item)
	case ProjectInvited:
		if err = need("project", ev.Project); err == nil {
			err = need("person", ev.Person)
		}
	case ProjectMemberAdded:
		if err = need("project", ev.Project); err == nil && ev.Person == "" && ev.Team == "" {
			err = &FieldError{"person", "person or team required for " + ev.Type}
		}
	}
	if ev.Type == PasswordResetRequested && err == nil {
		err = need("link", ev.Link)
	}
	return err
}

// Outcome is what handling an event did.
type Outcome struct {
	Event     Event       `json:"event"`
	Duplicate bool        `json:"duplicate"` // handled before: this repeats that outcome
	Emails    []SentEmail `json:"emails"`
	Messages  []string    `json:"messages"`          // IDs of messages automations posted
	Skipped   []string    `json:"skipped,omitempty"` // what was not done, and why
}

// SentEmail is a system or automation email queued for an event.
type SentEmail struct {
	Template string `json:"template"`
	Person   string `json:"person"`
	Job      string `json:"job"`
}

const bEvents = "center_events" // event ID -> Outcome (pruned with the log's retention, see prune.go)

func getEvent(tx *store.Tx, id string) (Outcome, bool, error) {
	b := tx.Get(bEvents, []byte(id))
	if b == nil {
		return Outcome{}, false, nil
	}
	var o Outcome
	if err := json.Unmarshal(b, &o); err != nil {
		return o, true, fmt.Errorf("decode event %s: %w", id, err)
	}
	return o, true, nil
}

func putEvent(tx *store.Tx, o Outcome) error {
	if o.Emails == nil {
		o.Emails = []SentEmail{}
	}
	if o.Messages == nil {
		o.Messages = []string{}
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	if err := tx.Put(bEventTimes, eventTimeKey(o.Event.Received, o.Event.ID), nil); err != nil {
		return err
	}
	return tx.Put(bEvents, []byte(o.Event.ID), b)
}
