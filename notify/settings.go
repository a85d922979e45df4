package notify

import (
	"fmt"
	"slices"
	"strings"
)

// Visibility says which conversations a user may see without following
// them (SPEC section 3, "Visibility").
type Visibility string

const (
	// VisibilityFollowedProjects: only conversations in projects the user
	// follows (and conversations the user follows). The default.
	VisibilityFollowedProjects Visibility = "followed_projects"
	// VisibilityAllProjects: conversations of every project.
	VisibilityAllProjects Visibility = "all_projects"
)

// FromCustomers says which messages written by customers notify a user
// (SPEC section 3, "From customers").
type FromCustomers string

const (
	// FromCustomersAll is "All customer messages".
	FromCustomersAll FromCustomers = "all"
	// FromCustomersMine is "Only from my conversations": the user follows
	// the conversation or its item. The default.
	FromCustomersMine FromCustomers = "mine"
	// FromCustomersNone is "No customer messages".
	FromCustomersNone FromCustomers = "none"
)

// FromUsers says which messages written by users or bots in external
// conversations (replies to customers) notify a user (SPEC section 3,
// "From users and bot").
type FromUsers string

const (
	// FromUsersAll is "All replies to customers".
	FromUsersAll FromUsers = "all"
	// FromUsersFollowed is "Followed replies to customers". The default.
	FromUsersFollowed FromUsers = "followed"
	// FromUsersNone is "No replies to customers".
	FromUsersNone FromUsers = "none"
)

// Settings are a user's notification and email settings, SPEC section 3.
// Customers and bots carry no settings that matter: only users' settings
// are read by Recipients.
//
// The zero value is not valid (its enums are empty); start from
// DefaultSettings. Decoding JSON into an existing Settings overwrites only
// the fields present, which is how a partial update is applied.
type Settings struct {
	// Notifications.
	Visibility        Visibility    `json:"visibility"`
	ShowFromCustomers bool          `json:"show_from_customers"`
	FromCustomers     FromCustomers `json:"from_customers"`
	FromUsers         FromUsers     `json:"from_users"`
	FollowedInternal  bool          `json:"followed_internal"`

	// Emails. Recipients does not read these; they are here so that a
	// user's settings are one value, validated and stored together.
	AssignmentChanges bool `json:"assignment_changes"` // assigned to or unassigned from an item
	NewMembers        bool `json:"new_members"`        // a user or team joins a followed project
	AcceptInvitations bool `json:"accept_invitations"` // project invitations are accepted automatically
}

// DefaultSettings returns the settings of a new user, as SPEC section 3
// lists them.
func DefaultSettings() Settings {
	return Settings{
		Visibility:        VisibilityFollowedProjects,
		ShowFromCustomers: true,
		FromCustomers:     FromCustomersMine,
		FromUsers:         FromUsersFollowed,
		FollowedInternal:  true,
		AssignmentChanges: true,
		NewMembers:        false,
		AcceptInvitations: true,
	}
}

// Validate reports the first field whose value is not one of its choices,
// as a *FieldError naming the field by its JSON name.
func (s Settings) Validate() error {
	if err := check("visibility", s.Visibility, visibilities); err != nil {
		return err
	}
	if err := check("from_customers", s.FromCustomers, fromCustomers); err != nil {
		return err
	}
	return check("from_users", s.FromUsers, fromUsers)
}

// The preset names accepted by ApplyPreset (SPEC section 3).
const (
	PresetNothing        = "nothing"         // No customer messages, No replies to customers, internal off
	PresetSupportManager = "support_manager" // All customer messages, All replies to customers, internal on
	PresetSupportMember  = "support_member"  // Only from my conversations, Followed replies, internal on
)

type preset struct {
	fromCustomers FromCustomers
	fromUsers     FromUsers
	internal      bool
}

var presets = map[string]preset{
	PresetNothing:        {FromCustomersNone, FromUsersNone, false},
	PresetSupportManager: {FromCustomersAll, FromUsersAll, true},
	PresetSupportMember:  {FromCustomersMine, FromUsersFollowed, true},
}

// Presets returns the preset names, sorted.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for name := range presets {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// ApplyPreset returns s with the three choices the preset names set: From
// customers, From users and bot, and Followed internal messages. Visibility,
// Show From customers and the email settings are left as they are, because
// a preset is a shortcut for the notification table, not a reset; a support
// manager who only follows some projects keeps seeing only those.
func ApplyPreset(s Settings, name string) (Settings, error) {
	p, ok := presets[name]
	if !ok {
		return s, &FieldError{Field: "preset", Value: name, Allowed: Presets()}
	}
	s.FromCustomers = p.fromCustomers
	s.FromUsers = p.fromUsers
	s.FollowedInternal = p.internal
	return s, nil
}

// FieldError is a value that is not one of a field's choices. Field is the
// JSON name, so an API can tell its client which field to fix.
type FieldError struct {
	Field   string
	Value   string
	Allowed []string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("notify: %s: unknown value %q (want %s)",
		e.Field, e.Value, strings.Join(e.Allowed, " | "))
}

var (
	visibilities  = []Visibility{VisibilityFollowedProjects, VisibilityAllProjects}
	fromCustomers = []FromCustomers{FromCustomersAll, FromCustomersMine, FromCustomersNone}
	fromUsers     = []FromUsers{FromUsersAll, FromUsersFollowed, FromUsersNone}
	kinds         = []Kind{KindUser, KindCustomer, KindBot}
)

// check is the one place that decides whether an enum value is known, used
// by Validate and by the text (and so JSON) (un)marshalling of every enum.
func check[T ~string](field string, v T, allowed []T) error {
	if slices.Contains(allowed, v) {
		return nil
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = string(a)
	}
	return &FieldError{Field: field, Value: string(v), Allowed: names}
}

func marshal[T ~string](field string, v T, allowed []T) ([]byte, error) {
	if err := check(field, v, allowed); err != nil {
		return nil, err
	}
	return []byte(v), nil
}

func unmarshal[T ~string](field string, b []byte, allowed []T, dst *T) error {
	v := T(b)
	if err := check(field, v, allowed); err != nil {
		return err
	}
	*dst = v
	return nil
}

// MarshalText refuses an unknown value, so a bad setting never reaches JSON.
func (v Visibility) MarshalText() ([]byte, error) { return marshal("visibility", v, visibilities) }

// UnmarshalText accepts only the known values and names the bad one.
func (v *Visibility) UnmarshalText(b []byte) error {
	return unmarshal("visibility", b, visibilities, v)
}

// MarshalText refuses an unknown value, so a bad setting never reaches JSON.
func (v FromCustomers) MarshalText() ([]byte, error) {
	return marshal("from_customers", v, fromCustomers)
}

// UnmarshalText accepts only the known values and names the bad one.
func (v *FromCustomers) UnmarshalText(b []byte) error {
	return unmarshal("from_customers", b, fromCustomers, v)
}

// MarshalText refuses an unknown value, so a bad setting never reaches JSON.
func (v FromUsers) MarshalText() ([]byte, error) { return marshal("from_users", v, fromUsers) }

// UnmarshalText accepts only the known values and names the bad one.
func (v *FromUsers) UnmarshalText(b []byte) error {
	return unmarshal("from_users", b, fromUsers, v)
}

// MarshalText refuses an unknown value, so a bad kind never reaches JSON.
func (k Kind) MarshalText() ([]byte, error) { return marshal("kind", k, kinds) }

// UnmarshalText accepts only the known values and names the bad one.
func (k *Kind) UnmarshalText(b []byte) error { return unmarshal("kind", b, kinds, k) }

// Validate reports a kind that is not user, customer or bot.
func (k Kind) Validate() error { return check("kind", k, kinds) }
