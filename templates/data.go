package templates

import "time"

// Data is what every template may use. One type for all templates keeps
// them interchangeable: an automation may send any template, and a
// template is validated by rendering it with Sample.
type Data struct {
	Org           string // the helpdesk's name (the From header's name)
	RecipientName string
	ActorName     string // who did what the email tells
	Link          string // sign-in, reset or item link, from the web app
	ProjectName   string
	ItemTitle     string
	Status        string // an item's status (item.status_changed, item.closed)
	Assigned      bool   // assignment_change: assigned (true) or unassigned
	MemberName    string // new_member: the user or team that joined
	Accepted      bool   // invitation: accepted automatically
	Text          string // an automation's text

	// The notification email (SPEC section 4).
	Topic    string
	Messages []Message
}

// Sample is the data of previews and of the render check of every save.
// Names carry markup on purpose: a preview shows that it is escaped.
func Sample() Data {
	at := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	return Data{
		Org:           "Example Helpdesk",
		RecipientName: "Ann Agent",
		ActorName:     "Bob Boss",
		Link:          "https://help.example.com/link?token=SAMPLE",
		ProjectName:   "Support",
		ItemTitle:     "Printer on fire <urgent>",
		Status:        "closed",
		Assigned:      true,
		MemberName:    "Carol Newcomer",
		Text:          "This item is closed. Reply to reopen it.",
		Topic:         "Printer on fire <urgent>",
		Messages: []Message{
			{Author: "Cat Customer", Time: at, Text: "The printer is on fire.\nPlease help."},
			{Author: "Bob Boss", Time: at.Add(5 * time.Minute), Text: "On our way <b>now</b>."},
		},
	}
}
