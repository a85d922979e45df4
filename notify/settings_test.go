package notify

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestDefaultSettingsAreTheSpecDefaults(t *testing.T) {
	want := Settings{
		Visibility:        VisibilityFollowedProjects,
		ShowFromCustomers: true,
		FromCustomers:     FromCustomersMine,
		FromUsers:         FromUsersFollowed,
		FollowedInternal:  true,
		AssignmentChanges: true,
		NewMembers:        false,
		AcceptInvitations: true,
	}
	got := DefaultSettings()
	if got != want {
		t.Fatalf("DefaultSettings() = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestApplyPresetSetsItsThreeChoicesAndKeepsTheRest(t *testing.T) {
	// Start from a non-default base so that "keeps the rest" is tested on
	// values a preset could plausibly overwrite.
	base := Settings{
		Visibility:        VisibilityAllProjects,
		ShowFromCustomers: false,
		FromCustomers:     FromCustomersMine,
		FromUsers:         FromUsersFollowed,
		FollowedInternal:  false,
		AssignmentChanges: false,
		NewMembers:        true,
		AcceptInvitations: false,
	}
	tests := []struct {
		preset   string
		from     FromCustomers
		users    FromUsers
		internal bool
	}{
		{PresetNothing, FromCustomersNone, FromUsersNone, false},
		{PresetSupportManager, FromCustomersAll, FromUsersAll, true},
		{PresetSupportMember, FromCustomersMine, FromUsersFollowed, true},
	}
	for _, tt := range tests {
		t.Run(tt.preset, func(t *testing.T) {
			got, err := ApplyPreset(base, tt.preset)
			if err != nil {
				t.Fatal(err)
			}
			want := base
			want.FromCustomers, want.FromUsers, want.FollowedInternal = tt.from, tt.users, tt.internal
			if got != want {
				t.Fatalf("ApplyPreset(%q) = %+v, want %+v", tt.preset, got, want)
			}
		})
	}
	if got := Presets(); strings.Join(got, ",") != "nothing,support_manager,support_member" {
		t.Errorf("Presets() = %v", got)
	}
}

func TestApplyPresetRejectsUnknownNameAndReturnsInputUnchanged(t *testing.T) {
	s := DefaultSettings()
	got, err := ApplyPreset(s, "support_boss")
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "preset" || fe.Value != "support_boss" {
		t.Fatalf("err = %v, want a FieldError for preset support_boss", err)
	}
	if got != s {
		t.Errorf("settings changed on error: %+v", got)
	}
}

func TestSettingsJSONRoundTrip(t *testing.T) {
	s, _ := ApplyPreset(DefaultSettings(), PresetSupportManager)
	s.Visibility = VisibilityAllProjects
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"visibility":"all_projects","show_from_customers":true,` +
		`"from_customers":"all","from_users":"all","followed_internal":true,` +
		`"assignment_changes":true,"new_members":false,"accept_invitations":true}`
	if string(b) != want {
		t.Fatalf("json = %s\nwant   %s", b, want)
	}
	var back Settings
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back != s {
		t.Fatalf("round trip = %+v, want %+v", back, s)
	}
}

func TestSettingsJSONPartialUpdateKeepsOtherFields(t *testing.T) {
	s := DefaultSettings()
	if err := json.Unmarshal([]byte(`{"from_users":"none"}`), &s); err != nil {
		t.Fatal(err)
	}
	want := DefaultSettings()
	want.FromUsers = FromUsersNone
	if s != want {
		t.Fatalf("got %+v, want %+v", s, want)
	}
}

func TestUnmarshalRejectsUnknownEnumValueNamingFieldAndValue(t *testing.T) {
	tests := []struct {
		name, json, field, value string
	}{
		{"visibility", `{"visibility":"some_projects"}`, "visibility", "some_projects"},
		{"from customers", `{"from_customers":"most"}`, "from_customers", "most"},
		{"from users", `{"from_users":"All"}`, "from_users", "All"}, // case matters
		{"empty string", `{"from_users":""}`, "from_users", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			err := json.Unmarshal([]byte(tt.json), &s)
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("err = %v, want a *FieldError", err)
			}
			if fe.Field != tt.field || fe.Value != tt.value {
				t.Errorf("FieldError = %+v, want field %q value %q", fe, tt.field, tt.value)
			}
			if !strings.Contains(err.Error(), `"`+tt.value+`"`) {
				t.Errorf("message %q does not name the value", err)
			}
		})
	}
}

func TestMarshalRefusesUnknownEnumValue(t *testing.T) {
	s := DefaultSettings()
	s.FromCustomers = "sometimes"
	if _, err := json.Marshal(s); err == nil || !strings.Contains(err.Error(), "sometimes") {
		t.Fatalf("Marshal err = %v, want an error naming the value", err)
	}
}

func TestValidateNamesTheBadField(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(*Settings)
		field string
	}{
		{"zero value", func(s *Settings) { *s = Settings{} }, "visibility"},
		{"visibility", func(s *Settings) { s.Visibility = "everything" }, "visibility"},
		{"from customers", func(s *Settings) { s.FromCustomers = "" }, "from_customers"},
		{"from users", func(s *Settings) { s.FromUsers = "mine" }, "from_users"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			tt.edit(&s)
			var fe *FieldError
			if err := s.Validate(); !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("Validate() = %v, want a FieldError for %s", err, tt.field)
			}
		})
	}
}

func TestKindJSON(t *testing.T) {
	var k Kind
	if err := json.Unmarshal([]byte(`"bot"`), &k); err != nil || k != KindBot {
		t.Fatalf("got %q, %v", k, err)
	}
	err := json.Unmarshal([]byte(`"admin"`), &k)
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "kind" || fe.Value != "admin" {
		t.Fatalf("err = %v, want a FieldError for kind admin", err)
	}
	if k != KindBot {
		t.Errorf("a rejected value overwrote the kind: %q", k)
	}
}
