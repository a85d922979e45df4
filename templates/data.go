package templates

import "time"

// Data is what every template may use. One type for all templates keeps
// them interchangeable: an automation may send any template, and a
// template is validated by rendering it with Sample.
//
// No type reachable from Data has a method (TestDataHasNoMethods): a
// template can call only the bounded functions of budget.go, never a
// method such as time.Time's Format or Unix, whose results nothing bounds
// (issue 21, item 4).
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
	Messages []MessageData
}

// TimeLayout is how MessageData.Time is written.
const TimeLayout = "2 Jan 2006 15:04 MST"

// MessageData is one message as templates see it: strings only. Time is
// written in TimeLayout; {{.Time.Format "LAYOUT"}}, the form of templates
// saved before, is rewritten into a bounded call (timeFormat, bounds.go).
type MessageData struct {
	Author string
	Time   string
	Text   string
	at     time.Time // for timeFormat only; templates cannot reach it
}

func messageData(m Message) MessageData {
	return MessageData{Author: m.Author, Time: m.Time.Format(TimeLayout), Text: m.Text, at: m.Time}
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
		Messages: []MessageData{
			messageData(Message{Author: "Cat Customer", Time: at, Text: "The printer is on fire.\nPlease help."}),
			messageData(Message{Author: "Bob Boss", Time: at.Add(5 * time.Minute), Text: "On our way <b>now</b>."}),
		},
	}
}
