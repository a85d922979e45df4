package model

import (
	"bytes"
	"encoding"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// People and conversations stay JSON (a node of an earlier version reads
// them during a rolling upgrade), but the pipeline reads the author and
// the conversation of every email several times in its commit, and
// encoding/json's reflection was the largest share of the daemon's JSON
// work per email (docs/PERFORMANCE.md, branch pipecpu). decodeRecord reads
// the records this code writes (json.Marshal's output: the fields in
// order, no white space, strings without escapes) with a small parser
// and hands anything else to json.Unmarshal: an escape in a string, white
// space, a key it does not know, a value of another type, an enum or a
// time its own decoder refuses. What it reads is what json.Unmarshal
// reads (TestRecordJSONSameAsEncodingJSON).
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

// jsonCursor reads the subset of JSON json.Marshal writes for a record.
// Any read it cannot make sets bad; the caller then starts over with
// encoding/json.
type jsonCursor struct {
	b   []byte
	bad bool
}

func (c *jsonCursor) byte(want byte) {
	if c.bad || len(c.b) == 0 || c.b[0] != want {
		c.bad = true
		return
	}
	c.b = c.b[1:]
}

// peek is the next byte, 0 at the end.
func (c *jsonCursor) peek() byte {
	if c.bad || len(c.b) == 0 {
		return 0
	}
	return c.b[0]
}

// raw reads a string without escapes or control characters, in UTF-8,
// and returns its bytes (without the quotes).
func (c *jsonCursor) raw() []byte {
	c.byte('"')
	if c.bad {
		return nil
	}
	i := bytes.IndexByte(c.b, '"')
	if i < 0 {
		c.bad = true
		return nil
	}
	s := c.b[:i]
	for _, ch := range s {
		if ch < 0x20 || ch == '\\' {
			c.bad = true
			return nil
		}
	}
	if !utf8.Valid(s) {
		c.bad = true
		return nil
	}
	c.b = c.b[i+1:]
	return s
}

func (c *jsonCursor) str() string { return string(c.raw()) }

// key reads a key and its colon.
func (c *jsonCursor) key() []byte {
	k := c.raw()
	c.byte(':')
	return k
}

func (c *jsonCursor) boolean() bool {
	switch {
	case c.bad:
	case bytes.HasPrefix(c.b, []byte("true")):
		c.b = c.b[4:]
		return true
	case bytes.HasPrefix(c.b, []byte("false")):
		c.b = c.b[5:]
		return false
	default:
		c.bad = true
	}
	return false
}

// null reads a null if one is next.
func (c *jsonCursor) null() bool {
	if !c.bad && bytes.HasPrefix(c.b, []byte("null")) {
		c.b = c.b[4:]
		return true
	}
	return false
}

// list reads an array of strings, or null (a nil list).
func (c *jsonCursor) list() []string {
	if c.null() {
		return nil
	}
	c.byte('[')
	l := []string{}
	if c.peek() == ']' {
		c.b = c.b[1:]
		return l
	}
	for !c.bad {
		l = append(l, c.str())
		if c.peek() == ',' {
			c.b = c.b[1:]
			continue
		}
		c.byte(']')
		break
	}
	return l
}

// text reads a string into an enum through its UnmarshalText.
func (c *jsonCursor) text(v encoding.TextUnmarshaler) {
	s := c.raw()
	if !c.bad && v.UnmarshalText(s) != nil {
		c.bad = true
	}
}

// time reads a time through time.Time's own UnmarshalJSON.
func (c *jsonCursor) time(t *time.Time) {
	if c.bad || len(c.b) == 0 || c.b[0] != '"' {
		c.bad = true
		return
	}
	i := bytes.IndexByte(c.b[1:], '"')
	if i < 0 {
		c.bad = true
		return
	}
	if t.UnmarshalJSON(c.b[:i+2]) != nil {
		c.bad = true
		return
	}
	c.b = c.b[i+2:]
}

// object reads the members of an object, calling member for each key;
// member reads the value.
func (c *jsonCursor) object(member func(k []byte)) {
	c.byte('{')
	if c.peek() == '}' {
		c.b = c.b[1:]
		return
	}
	for !c.bad {
		member(c.key())
		if c.peek() == ',' {
			c.b = c.b[1:]
			continue
		}
		c.byte('}')
		break
	}
}

func decodePersonJSON(b []byte, p *Person) bool {
	out := *p // json.Unmarshal keeps the fields a record does not have
	c := jsonCursor{b: b}
	s := &out.Settings
	c.object(func(k []byte) {
		switch string(k) {
		case "id":
			out.ID = c.str()
		case "kind":
			c.text(&out.Kind)
		case "name":
			out.Name = c.str()
		case "emails":
			out.Emails = c.list()
		case "settings":
			c.object(func(k []byte) {
				switch string(k) {
				case "visibility":
					c.text(&s.Visibility)
				case "show_from_customers":
					s.ShowFromCustomers = c.boolean()
				case "from_customers":
					c.text(&s.FromCustomers)
				case "from_users":
					c.text(&s.FromUsers)
				case "followed_internal":
					s.FollowedInternal = c.boolean()
				case "assignment_changes":
					s.AssignmentChanges = c.boolean()
				case "new_members":
					s.NewMembers = c.boolean()
				case "accept_invitations":
					s.AcceptInvitations = c.boolean()
				default:
					c.bad = true
				}
			})
		case "created":
			c.time(&out.Created)
		case "unverified":
			out.Unverified = c.boolean()
		default:
			c.bad = true
		}
	})
	if c.bad || len(c.b) != 0 {
		return false
	}
	*p = out
	return true
}

func decodeConversationJSON(b []byte, cv *Conversation) bool {
	out := *cv
	c := jsonCursor{b: b}
	c.object(func(k []byte) {
		switch string(k) {
		case "id":
			out.ID = c.str()
		case "item":
			out.Item = c.str()
		case "kind":
			out.Kind = c.str()
		case "subject":
			out.Subject = c.str()
		case "followers":
			out.Followers = c.list()
		case "tag":
			out.Tag = c.str()
		case "root_message_id":
			out.RootID = c.str()
		case "created":
			c.time(&out.Created)
		case "opened_unverified":
			out.OpenedUnverified = c.str()
		case "agent_wrote":
			if c.null() {
				out.AgentWrote = nil
				return
			}
			var t time.Time
			c.time(&t)
			out.AgentWrote = &t
		default:
			c.bad = true
		}
	})
	if c.bad || len(c.b) != 0 {
		return false
	}
	*cv = out
	return true
}
