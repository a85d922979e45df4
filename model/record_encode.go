package model

import (
	"encoding"
	"encoding/json"

	"github.com/deskmail/deskmail/internal/jsonrec"
)

// encodeRecord is json.Marshal(v): for the person, the conversation and
// the message the pipeline writes for an email, the same bytes written
// field by field (internal/jsonrec; TestRecordEncodeSameAsJSONMarshal),
// without encoding/json's reflection; any other value, and any value one
// of them cannot write (an enum MarshalText refuses, a year past 9999),
// goes to json.Marshal, which answers with its own error.
func encodeRecord(v any) ([]byte, error) {
	var b []byte
	ok := true
	switch r := v.(type) {
	case Person:
		b, ok = appendPerson(make([]byte, 0, 384), &r)
	case *Person:
		b, ok = appendPerson(make([]byte, 0, 384), r)
	case Conversation:
		b, ok = appendConversation(make([]byte, 0, 256), &r)
	case *Conversation:
		b, ok = appendConversation(make([]byte, 0, 256), r)
	case *Message:
		b, ok = appendMessage(make([]byte, 0, messageSize(r)), r)
	case Notification:
		b, ok = appendNotification(make([]byte, 0, 256), &r)
	default:
		ok = false
	}
	if !ok {
		return json.Marshal(v)
	}
	return b, nil
}

// messageSize is room for m's record in one allocation (an email's
// message outgrew its text's length and an eighth and was copied once
// more): its fields' lengths, an eighth more for their escapes, and the
// names of the fields.
func messageSize(m *Message) int {
	n := len(m.ID) + len(m.Conversation) + len(m.Author) + len(m.Channel) + len(m.Text) + len(m.HTML) +
		len(m.Original) + len(m.MessageID) + len(m.Verification)
	for _, a := range m.Attachments {
		n += 64 + len(a.Name) + len(a.ContentType)
	}
	for _, e := range m.EmailTo {
		n += 3 + len(e)
	}
	return 256 + n + n/8
}

// text appends an enum as json.Marshal does: its MarshalText, as a
// string. (Generic, so the enum is not boxed in an interface.)
func text[T interface {
	~string
	encoding.TextMarshaler
}](b []byte, name string, v T) ([]byte, bool) {
	t, err := v.MarshalText()
	if err != nil {
		return b, false
	}
	return jsonrec.Bytes(jsonrec.Key(b, name), t), true
}

func appendPerson(b []byte, p *Person) ([]byte, bool) {
	ok, ok2 := true, true
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "id"), p.ID)
	if b, ok = text(b, "kind", p.Kind); !ok {
		return b, false
	}
	b = jsonrec.String(jsonrec.Key(b, "name"), p.Name)
	b = jsonrec.Strings(jsonrec.Key(b, "emails"), p.Emails)
	s := &p.Settings
	b = append(jsonrec.Key(b, "settings"), '{')
	b, ok = text(b, "visibility", s.Visibility)
	b = jsonrec.Bool(jsonrec.Key(b, "show_from_customers"), s.ShowFromCustomers)
	b, ok2 = text(b, "from_customers", s.FromCustomers)
	ok = ok && ok2
	b, ok2 = text(b, "from_users", s.FromUsers)
	ok = ok && ok2
	b = jsonrec.Bool(jsonrec.Key(b, "followed_internal"), s.FollowedInternal)
	b = jsonrec.Bool(jsonrec.Key(b, "assignment_changes"), s.AssignmentChanges)
	b = jsonrec.Bool(jsonrec.Key(b, "new_members"), s.NewMembers)
	b = jsonrec.Bool(jsonrec.Key(b, "accept_invitations"), s.AcceptInvitations)
	b = append(b, '}')
	if b, ok2 = jsonrec.TimeMember(b, "created", p.Created); !ok || !ok2 {
		return b, false
	}
	b = jsonrec.OptTrue(b, "unverified", p.Unverified)
	return append(b, '}'), true
}

func appendConversation(b []byte, c *Conversation) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "id"), c.ID)
	b = jsonrec.OptString(b, "item", c.Item)
	b = jsonrec.String(jsonrec.Key(b, "kind"), c.Kind)
	b = jsonrec.OptString(b, "subject", c.Subject)
	b = jsonrec.Strings(jsonrec.Key(b, "followers"), c.Followers)
	b = jsonrec.String(jsonrec.Key(b, "tag"), c.Tag)
	b = jsonrec.OptString(b, "root_message_id", c.RootID)
	if b, ok = jsonrec.TimeMember(b, "created", c.Created); !ok {
		return b, false
	}
	b = jsonrec.OptString(b, "opened_unverified", c.OpenedUnverified)
	if b, ok = jsonrec.OptTimeMember(b, "agent_wrote", c.AgentWrote); !ok {
		return b, false
	}
	return append(b, '}'), true
}

func appendMessage(b []byte, m *Message) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "id"), m.ID)
	b = jsonrec.String(jsonrec.Key(b, "conversation"), m.Conversation)
	b = jsonrec.String(jsonrec.Key(b, "author"), m.Author)
	b = jsonrec.String(jsonrec.Key(b, "channel"), m.Channel)
	b = jsonrec.String(jsonrec.Key(b, "text"), m.Text)
	b = jsonrec.OptString(b, "html", m.HTML)
	b = jsonrec.OptString(b, "original", m.Original)
	b = jsonrec.OptString(b, "message_id", m.MessageID)
	if len(m.Attachments) > 0 {
		b = append(jsonrec.Key(b, "attachments"), '[')
		for i, a := range m.Attachments {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			b = jsonrec.String(jsonrec.Key(b, "name"), a.Name)
			b = jsonrec.String(jsonrec.Key(b, "content_type"), a.ContentType)
			b = jsonrec.Int(jsonrec.Key(b, "size"), a.Size)
			b = jsonrec.Int(jsonrec.Key(b, "part"), int64(a.Part))
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if b, ok = jsonrec.TimeMember(b, "created", m.Created); !ok {
		return b, false
	}
	if b, ok = jsonrec.OptTimeMember(b, "retracted", m.Retracted); !ok {
		return b, false
	}
	b = jsonrec.OptTrue(b, "unverified", m.Unverified)
	b = jsonrec.OptString(b, "verification", m.Verification)
	b = jsonrec.OptTrue(b, "outsider", m.Outsider)
	b = jsonrec.OptStrings(b, "email_to", m.EmailTo)
	return append(b, '}'), true
}

// appendNotification writes a notification: a seen-ack rewrites one
// with its Seen time (MarkSeenOf), inside the commit.
func appendNotification(b []byte, n *Notification) ([]byte, bool) {
	ok := true
	b = append(b, '{')
	b = jsonrec.String(jsonrec.Key(b, "person"), n.Person)
	b = jsonrec.String(jsonrec.Key(b, "message"), n.Message)
	b = jsonrec.String(jsonrec.Key(b, "conversation"), n.Conversation)
	b = jsonrec.String(jsonrec.Key(b, "reason"), n.Reason)
	if b, ok = jsonrec.TimeMember(b, "created", n.Created); !ok {
		return b, false
	}
	if b, ok = jsonrec.OptTimeMember(b, "seen", n.Seen); !ok {
		return b, false
	}
	return append(b, '}'), true
}
