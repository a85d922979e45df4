package center

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

// Automation inserts a message or sends an email when its trigger (an
// event type) fires and its conditions hold (SPEC section 8).
type Automation struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Builtin bool   `json:"builtin,omitempty"`
	Enabled bool   `json:"enabled"`
	// Trigger is an event type; the built-in automation's is
	// "message.created".
	Trigger    string     `json:"trigger"`
	Conditions Conditions `json:"conditions"`
	Action     Action     `json:"action"`
	Updated    time.Time  `json:"updated,omitzero"`
}

// Conditions narrow a trigger; an empty list matches everything.
type Conditions struct {
	Projects []string `json:"projects,omitempty"` // the event's project (an item event: the item's)
	Statuses []string `json:"statuses,omitempty"` // the event's status
}

// Action is what an automation does.
type Action struct {
	// Kind is "post_message" (Text, posted to the item's followers by the
	// normal rules) or "send_email" (Template, to To).
	Kind     string   `json:"kind"`
	Text     string   `json:"text,omitempty"`
	Template string   `json:"template,omitempty"`
	To       []string `json:"to,omitempty"` // followers, assignees, customer
}

// Action kinds and recipients.
const (
	PostMessage = "post_message"
	SendEmail   = "send_email"

	ToFollowers = "followers"
	ToAssignees = "assignees"
	ToCustomer  = "customer"
)

// BuiltinID is the built-in automation of SPEC section 2: a new message in
// a conversation of an item notifies its followers. It is always listed
// first, cannot be disabled or deleted, and only its text is editable.
const BuiltinID = "new-message"

// MessageCreated is the built-in automation's trigger.
const MessageCreated = "message.created"

// Errors. Compare with errors.Is.
var (
	ErrNotFound = errors.New("no such automation")
	ErrBuiltin  = errors.New("the built-in message automation cannot be disabled or deleted; only its text can be edited")
)

// Builtin is the built-in automation as shipped.
func Builtin() Automation {
	return Automation{ID: BuiltinID, Name: "A new message in a conversation of an item notifies its followers",
		Builtin: true, Enabled: true, Trigger: MessageCreated,
		Action: Action{Kind: PostMessage, Text: "New message in a conversation you follow."}}
}

const bAutomations = "center_automations" // ID -> Automation

// MaxAutomations bounds how many automations are kept (each event scans them).
const MaxAutomations = 1000

// Automations returns the built-in automation first, then the others by ID.
func Automations(tx *store.Tx) ([]Automation, error) {
	b, err := GetAutomation(tx, BuiltinID)
	if err != nil {
		return nil, err
	}
	out := []Automation{b}
	err = tx.Scan(bAutomations, nil, func(k, v []byte) (bool, error) {
		if string(k) == BuiltinID {
			return true, nil
		}
		var a Automation
		if err := json.Unmarshal(v, &a); err != nil {
			return false, fmt.Errorf("decode automation %s: %w", k, err)
		}
		out = append(out, a)
		return true, nil
	})
	return out, err
}

// GetAutomation returns one automation.
func GetAutomation(tx *store.Tx, id string) (Automation, error) {
	b := tx.Get(bAutomations, []byte(id))
	if b == nil {
		if id == BuiltinID {
			return Builtin(), nil
		}
		return Automation{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var a Automation
	if err := json.Unmarshal(b, &a); err != nil {
		return a, fmt.Errorf("decode automation %s: %w", id, err)
	}
	return a, nil
}

// PutAutomation creates or replaces an automation after checking it. The
// built-in one takes only a new text: any other change is refused.
func PutAutomation(tx *store.Tx, a Automation, now time.Time) (Automation, error) {
	if a.ID == BuiltinID {
		b, err := GetAutomation(tx, BuiltinID)
		if err != nil {
			return a, err
		}
		if a.Name != "" && a.Name != b.Name || a.Trigger != "" && a.Trigger != b.Trigger ||
			a.Action.Kind != "" && a.Action.Kind != b.Action.Kind || a.Action.Template != "" || len(a.Action.To) > 0 ||
			len(a.Conditions.Projects) > 0 || len(a.Conditions.Statuses) > 0 || !a.Enabled {
			return a, ErrBuiltin
		}
		if strings.TrimSpace(a.Action.Text) == "" || len(a.Action.Text) > 4096 {
			return a, &FieldError{"action.text", "required, at most 4096 bytes"}
		}
		b.Action.Text, b.Updated = a.Action.Text, now
		return b, put(tx, b)
	}
	a.Builtin, a.Updated = false, now
	if err := a.validate(tx); err != nil {
		return a, err
	}
	if tx.Get(bAutomations, []byte(a.ID)) == nil && tx.Count(bAutomations) >= MaxAutomations {
		return a, &FieldError{"id", fmt.Sprintf("at most %d automations", MaxAutomations)}
	}
	return a, put(tx, a)
}

func put(tx *store.Tx, a Automation) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return tx.Put(bAutomations, []byte(a.ID), b)
}

func (a *Automation) validate(tx *store.Tx) error {
	switch {
	case !model.ValidID(a.ID):
		return &FieldError{"id", "1-64 letters, digits, '.', '_' or '-'"}
	case len(a.Name) > 200:
		return &FieldError{"name", "at most 200 bytes"}
	case !slices.Contains(EventTypes, a.Trigger):
		return &FieldError{"trigger", "must be one of " + strings.Join(EventTypes, ", ")}
	case len(a.Conditions.Projects) > 100 || len(a.Conditions.Statuses) > 100:
		return &FieldError{"conditions", "at most 100 projects and 100 statuses"}
	}
	switch a.Action.Kind {
	case PostMessage:
		if strings.TrimSpace(a.Action.Text) == "" || len(a.Action.Text) > 4096 {
			return &FieldError{"action.text", "required, at most 4096 bytes"}
		}
		if a.Action.Template != "" || len(a.Action.To) > 0 {
			return &FieldError{"action.kind", "post_message takes text only"}
		}
		if !strings.HasPrefix(a.Trigger, "item.") {
			return &FieldError{"trigger", "post_message needs an item event (item.*)"}
		}
	case SendEmail:
		if _, err := templates.Get(tx, a.Action.Template); err != nil {
			return &FieldError{"action.template", "no such template"}
		}
		if len(a.Action.To) == 0 {
			return &FieldError{"action.to", "required: followers, assignees and/or customer"}
		}
		for _, to := range a.Action.To {
			if to != ToFollowers && to != ToAssignees && to != ToCustomer {
				return &FieldError{"action.to", "each must be followers, assignees or customer"}
			}
		}
		if !strings.HasPrefix(a.Trigger, "item.") {
			return &FieldError{"trigger", "send_email needs an item event (item.*)"}
		}
	default:
		return &FieldError{"action.kind", "must be post_message or send_email"}
	}
	return nil
}

// SetAutomationEnabled switches an automation on or off; the built-in one
// cannot be switched off.
func SetAutomationEnabled(tx *store.Tx, id string, on bool, now time.Time) (Automation, error) {
	a, err := GetAutomation(tx, id)
	if err != nil {
		return a, err
	}
	if a.Builtin {
		if !on {
			return a, ErrBuiltin
		}
		return a, nil
	}
	a.Enabled, a.Updated = on, now
	return a, put(tx, a)
}

// DeleteAutomation removes an automation; the built-in one cannot be.
func DeleteAutomation(tx *store.Tx, id string) error {
	if id == BuiltinID {
		return ErrBuiltin
	}
	if tx.Get(bAutomations, []byte(id)) == nil {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return tx.Delete(bAutomations, []byte(id))
}

// UsedBy returns the IDs of the automations that send template name.
func UsedBy(tx *store.Tx, name string) ([]string, error) {
	all, err := Automations(tx)
	if err != nil {
		return nil, err
	}
	ids := []string{}
	for _, a := range all {
		if a.Action.Kind == SendEmail && a.Action.Template == name {
			ids = append(ids, a.ID)
		}
	}
	return ids, nil
}

// BuiltinText is the text of the built-in automation, for the top of the
// notification email (queue.Mailer.Intro).
func BuiltinText(tx *store.Tx) string {
	a, err := GetAutomation(tx, BuiltinID)
	if err != nil {
		return ""
	}
	return a.Action.Text
}
