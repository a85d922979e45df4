package model

import (
	"encoding/json"
	"time"

	"github.com/deskmail/deskmail/internal/jsonrec"
)

// People and conversations stay JSON (a node of an earlier version reads
// them during a rolling upgrade), but the pipeline reads the author and
// the conversation of every email several times in its commit, and
// encoding/json's reflection was the largest share of the daemon's JSON
// work per email (docs/PERFORMANCE.md, branch pipecpu). decodeRecord reads
// the records this code writes (json.Marshal's output: the fields in
// order, no white space) with jsonrec.Cursor, the journal's reader too,
// and hands anything else to json.Unmarshal: white space, a key it does
// not know, a value of another type, an enum or a time its own decoder
// refuses. What it reads is what json.Unmarshal reads
// (TestRecordJSONSameAsEncodingJSON).
func decodeRecord(b []byte, v any) error {
	var ok bool
	switch r := v.(type) {
	case *Person:
		ok = decodePersonJSON(b, r)
	case *Conversation:
		ok = decodeConversationJSON(b, r)
	}
	if ok {
		return nil
	}
	return json.Unmarshal(b, v)
}

func decodePersonJSON(b []byte, p *Person) bool {
	out := *p // json.Unmarshal keeps the fields a record does not have
	c := jsonrec.Cursor{B: b, S: string(b)}
	s := &out.Settings
	c.Object(func(k []byte) {
		switch string(k) {
		case "id":
			out.ID = c.Str()
		case "kind":
			c.Text(&out.Kind)
		case "name":
			out.Name = c.Str()
		case "emails":
			out.Emails = c.Strings()
		case "settings":
			c.Object(func(k []byte) {
				switch string(k) {
				case "visibility":
					c.Text(&s.Visibility)
				case "show_from_customers":
					s.ShowFromCustomers = c.Bool()
				case "from_customers":
					c.Text(&s.FromCustomers)
				case "from_users":
					c.Text(&s.FromUsers)
				case "followed_internal":
					s.FollowedInternal = c.Bool()
				case "assignment_changes":
					s.AssignmentChanges = c.Bool()
				case "new_members":
					s.NewMembers = c.Bool()
				case "accept_invitations":
					s.AcceptInvitations = c.Bool()
				default:
					c.Bad = true
				}
			})
		case "created":
			c.Time(&out.Created)
		case "unverified":
			out.Unverified = c.Bool()
		default:
			c.Bad = true
		}
	})
	if !c.Done() {
		return false
	}
	*p = out
	return true
}

func decodeConversationJSON(b []byte, cv *Conversation) bool {
	out := *cv
	c := jsonrec.Cursor{B: b, S: string(b)}
	c.Object(func(k []byte) {
		switch string(k) {
		case "id":
			out.ID = c.Str()
		case "item":
			out.Item = c.Str()
		case "kind":
			out.Kind = c.Str()
		case "subject":
			out.Subject = c.Str()
		case "followers":
			out.Followers = c.Strings()
		case "tag":
			out.Tag = c.Str()
		case "root_message_id":
			out.RootID = c.Str()
		case "created":
			c.Time(&out.Created)
		case "opened_unverified":
			out.OpenedUnverified = c.Str()
		case "agent_wrote":
			if c.Null() {
				out.AgentWrote = nil
				return
			}
			var t time.Time
			c.Time(&t)
			out.AgentWrote = &t
		default:
			c.Bad = true
		}
	})
	if !c.Done() {
		return false
	}
	*cv = out
	return true
}
