package templates

import (
	"embed"
	"strings"
)

//go:embed system/*.tmpl
var systemFiles embed.FS

// SystemEmail is one of the emails deskmail sends on a system event (SPEC
// section 8), each with its template of the same name.
type SystemEmail struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	// AlwaysOn: the email cannot be switched off (password reset: a user
	// locked out has no other way back in).
	AlwaysOn bool `json:"always_on,omitempty"`
}

// The system emails, in the order they are listed.
const (
	Welcome          = "welcome"
	PasswordReset    = "password_reset"
	AssignmentChange = "assignment_change"
	NewMember        = "new_member"
	Invitation       = "invitation"
	NotificationName = "notification"
)

// SystemEmails is the catalogue.
var SystemEmails = []SystemEmail{
	{Welcome, "a user is created", false},
	{PasswordReset, "a user asked to reset their password (never switched off)", true},
	{AssignmentChange, "a user is assigned to or unassigned from an item (when the user's \"Assignment changes\" setting is on)", false},
	{NewMember, "a user or team joins a project the user follows (when the user's \"New users and teams\" setting is on)", false},
	{Invitation, "a user is invited to a project, or added when they accept all invitations", false},
	{NotificationName, "messages a person did not see within the hold time (its subject is the conversation's, for threading)", false},
}

// LookupSystem returns the system email called name.
func LookupSystem(name string) (SystemEmail, bool) {
	for _, s := range SystemEmails {
		if s.Name == name {
			return s, true
		}
	}
	return SystemEmail{}, false
}

// Default returns the embedded template called name; ok is false for a
// name with no default (a template created for an automation).
func Default(name string) (Template, bool) {
	if name == NotificationName {
		text, _ := files.ReadFile("notification/notification.txt.tmpl")
		html, _ := files.ReadFile("notification/notification.html.tmpl")
		return Template{Name: name, Text: string(text), HTML: string(html)}, true
	}
	if _, ok := LookupSystem(name); !ok {
		return Template{}, false
	}
	read := func(part string) string {
		b, err := systemFiles.ReadFile("system/" + name + "." + part + ".tmpl")
		if err != nil {
			panic("templates: embedded default missing: " + err.Error())
		}
		return strings.TrimRight(string(b), "\n")
	}
	return Template{Name: name, Subject: read("subject"), Text: read("txt") + "\n", HTML: read("html") + "\n"}, true
}
