package model

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// Conversation kinds.
const (
	Internal = "internal" // users only
	External = "external" // users and customers
)

// Conversation belongs to an item (optional) and so to a project.
type Conversation struct {
	ID        string    `json:"id"`
	Item      string    `json:"item,omitempty"`
	Kind      string    `json:"kind"`
	Subject   string    `json:"subject,omitempty"`
	Followers []string  `json:"followers"`
	Tag       string    `json:"tag"`                       // the number of the subject tag [#Tag]
	RootID    string    `json:"root_message_id,omitempty"` // thread root Message-ID of the emails
	Created   time.Time `json:"created"`
	// OpenedUnverified is the person an unverified email opened the
	// conversation in the name of, and AgentWrote when a user first
	// wrote in it after that: until then that person is sent no email
	// about it (see EmailWithheld). Both are kept when the conversation
	// is replaced without them.
	OpenedUnverified string     `json:"opened_unverified,omitempty"`
	AgentWrote       *time.Time `json:"agent_wrote,omitempty"`
}

// RecentConversations lists conversations from the last key back (the
// IDs deskmail makes sort by time), at most limit.
func RecentConversations(tx *store.Tx, limit int) ([]Conversation, error) {
	var out []Conversation
	err := tx.ScanReverse(bConversations, nil, func(_, v []byte) (bool, error) {
		var c Conversation
		if err := decodeRecord(v, &c); err != nil {
			return false, err
		}
		out = append(out, c)
		return len(out) < limit, nil
	})
	return out, err
}

// PutConversation creates or replaces a conversation. A new one gets its
// subject-tag number; the tag and the root Message-ID are kept on update.
func PutConversation(tx *store.Tx, c *Conversation) error {
	if err := checkID("id", c.ID); err != nil {
		return err
	}
	if c.Kind != Internal && c.Kind != External {
		return &FieldError{"kind", "must be internal or external"}
	}
	if c.Item != "" {
		if _, err := GetItem(tx, c.Item); err != nil {
			return &FieldError{"item", "no such item"}
		}
	}
	if len(c.Subject) > 500 {
		return &FieldError{"subject", "at most 500 bytes"}
	}
	if err := checkPeople(tx, "followers", c.Followers); err != nil {
		return err
	}
	tx.Need(ConvLock(c.ID))
	var old Conversation
	if err := get(tx, bConversations, c.ID, &old); err == nil {
		c.Tag, c.Created = old.Tag, old.Created
		if c.RootID == "" {
			c.RootID = old.RootID
		}
		if c.Subject == "" {
			c.Subject = old.Subject
		}
		keepTrust(c, old)
	} else {
		n, err := tx.Sequence(bConvTags)
		if err != nil {
			return err
		}
		c.Tag = strconv.FormatUint(n+1000, 10)
		// A tag drawn from the sequence is new: on PostgreSQL a plain
		// INSERT, not an upsert.
		tx.Absent(bConvTags, []byte(c.Tag))
		if err := tx.Put(bConvTags, []byte(c.Tag), []byte(c.ID)); err != nil {
			return err
		}
	}
	if c.RootID != "" {
		if err := IndexMessageID(tx, c.RootID, c.ID); err != nil {
			return err
		}
	}
	return put(tx, bConversations, c.ID, c)
}

// GetConversation returns a conversation. In a write it needs the
// conversation's lock (ConvLock): what is read of a conversation is what
// gets written back (followers, trust marks, the thread root, the held
// emails about it).
func GetConversation(tx *store.Tx, id string) (Conversation, error) {
	tx.Need(ConvLock(id))
	var c Conversation
	return c, get(tx, bConversations, id, &c)
}

// Follow makes person follow the conversation (a person who posts in a
// conversation follows it from then on).
func Follow(tx *store.Tx, convID, person string) error {
	c, err := GetConversation(tx, convID)
	if err != nil {
		return err
	}
	return follow(tx, &c, person)
}

// follow is Follow of conversation c as read in this transaction.
func follow(tx *store.Tx, c *Conversation, person string) error {
	var added bool
	if c.Followers, added = addUnique(c.Followers, person); added {
		return put(tx, bConversations, c.ID, c)
	}
	return nil
}

// Follows tells whether person follows the conversation itself or its item.
func Follows(tx *store.Tx, person string, c Conversation) bool {
	for _, f := range c.Followers {
		if f == person {
			return true
		}
	}
	if c.Item != "" {
		if it, err := GetItem(tx, c.Item); err == nil {
			for _, f := range it.Followers {
				if f == person {
					return true
				}
			}
		}
	}
	return false
}

// Channels a message comes from.
const (
	ChannelWeb        = "web"
	ChannelEmail      = "email"
	ChannelBot        = "bot"
	ChannelAutomation = "automation"
)

// Attachment of a message. The bytes stay in the original email (Original
// names it); Part is the attachment's position among its MIME parts.
type Attachment struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	Part        int    `json:"part"`
}

// Message is posted in a conversation by a person.
type Message struct {
	ID           string       `json:"id"`
	Conversation string       `json:"conversation"`
	Author       string       `json:"author"`
	Channel      string       `json:"channel"`
	Text         string       `json:"text"`
	HTML         string       `json:"html,omitempty"`
	Original     string       `json:"original,omitempty"`   // the stored inbound email it came from
	MessageID    string       `json:"message_id,omitempty"` // its email Message-ID, when it came by email
	Attachments  []Attachment `json:"attachments,omitempty"`
	Created      time.Time    `json:"created"`
	Retracted    *time.Time   `json:"retracted,omitempty"`
	// Unverified: the email it came from failed authentication (no
	// aligned SPF or DKIM pass), so its author may not be who From says;
	// Verification says what the checks found. Outsider: its author was
	// not a participant of the conversation it matched, so it is there
	// for the agents to see: its author does not follow the
	// conversation and no customer is notified of it. EmailTo lists the
	// addresses the email was sent to (To and Cc), to tell later who was
	// a recipient of the email a reply answers. See trust.go.
	Unverified   bool     `json:"unverified,omitempty"`
	Verification string   `json:"verification,omitempty"`
	Outsider     bool     `json:"outsider,omitempty"`
	EmailTo      []string `json:"email_to,omitempty"`
}

// MaxTextBytes bounds a message's text and HTML.
const MaxTextBytes = 1 << 20

// AppendMessage stores a new message (m.ID and m.Created must be set) and
// makes its author follow the conversation, unless the message is an
// outsider's (Message.Outsider).
func AppendMessage(tx *store.Tx, m *Message) error {
	if err := checkID("id", m.ID); err != nil {
		return err
	}
	if tx.Get(bMessages, []byte(m.ID)) != nil {
		return fmt.Errorf("%w: message %s exists", ErrConflict, m.ID)
	}
	c, err := GetConversation(tx, m.Conversation)
	if err != nil {
		return err
	}
	author, err := GetPerson(tx, m.Author)
	if err != nil {
		return &FieldError{"author", "no such person"}
	}
	if c.Kind == Internal && author.Kind == notify.KindCustomer {
		return &FieldError{"author", "a customer cannot post in an internal conversation"}
	}
	if strings.TrimSpace(m.Text) == "" && strings.TrimSpace(m.HTML) == "" && len(m.Attachments) == 0 {
		return &FieldError{"text", "must not be empty"}
	}
	if len(m.Text) > MaxTextBytes || len(m.HTML) > MaxTextBytes {
		return &FieldError{"text", "at most 1 MiB"}
	}
	if err := put(tx, bMessages, m.ID, m); err != nil {
		return err
	}
	// The message is new (read absent above), and its key in its
	// conversation's list is written only with it: new too (on
	// PostgreSQL a plain INSERT, not an upsert).
	tx.Absent(bConvMessages, convKey(c.ID, m.ID))
	if err := tx.Put(bConvMessages, convKey(c.ID, m.ID), nil); err != nil {
		return err
	}
	if m.MessageID != "" {
		if err := IndexMessageID(tx, m.MessageID, c.ID); err != nil {
			return err
		}
		if err := indexEmailMessage(tx, m.MessageID, m.ID); err != nil {
			return err
		}
	}
	if err := noteAgentWrote(tx, &c, author, m.Created); err != nil {
		return err
	}
	if m.Outsider {
		return nil
	}
	if author.Kind != notify.KindBot {
		// c is the record as stored now (read above, rewritten by
		// noteAgentWrote only): not read and decoded a second time.
		return follow(tx, &c, author.ID)
	}
	return nil
}

// FreshConversation tells tx that conversation id is made in it from a
// fresh store.NewID: nobody else can know it, so its lock is the
// transaction's own (store.Tx.Own) and PutConversation needs no read to
// learn that it is new (store.Tx.Absent).
func FreshConversation(tx *store.Tx, id string) {
	tx.Own(ConvLock(id))
	tx.Absent(bConversations, []byte(id))
}

// DrawsTag names, for a commit's first round trip (store.Draws), the
// tag PutConversation takes for a conversation it opens: a commit that
// expects to open one (an email that threads to none) draws it with its
// locks instead of in a round trip of its own. One drawn and not taken
// (the email was a duplicate, or dropped) is a tag never used, a gap in
// the numbers as a rolled-back commit leaves one.
func DrawsTag() store.UpdateOption { return store.Draws(bConvTags, 1) }

// FreshMessage tells tx that message id is made in it from a fresh
// store.NewID: AppendMessage needs no read to learn that it is new.
func FreshMessage(tx *store.Tx, id string) { tx.Absent(bMessages, []byte(id)) }

func convKey(conv, msg string) []byte { return []byte(conv + "\x00" + msg) }

// GetMessage returns a message.
func GetMessage(tx *store.Tx, id string) (Message, error) {
	var m Message
	return m, get(tx, bMessages, id, &m)
}

// PutMessage rewrites a message (retraction).
func PutMessage(tx *store.Tx, m Message) error {
	if tx.Get(bMessages, []byte(m.ID)) == nil {
		return fmt.Errorf("message %s: %w", m.ID, ErrNotFound)
	}
	return put(tx, bMessages, m.ID, m)
}

// Messages lists a conversation's messages, oldest first, at most limit.
func Messages(tx *store.Tx, conv string, limit int) ([]Message, error) {
	prefix := []byte(conv + "\x00")
	var out []Message
	err := tx.ScanPrefix(bConvMessages, prefix, func(k, _ []byte) (bool, error) {
		m, err := GetMessage(tx, string(k[len(prefix):]))
		if err != nil {
			return false, err
		}
		out = append(out, m)
		return len(out) < limit, nil
	})
	return out, err
}

// IndexMessageID records that an email Message-ID (sent or received)
// belongs to a conversation. The first conversation to claim an ID keeps it.
func IndexMessageID(tx *store.Tx, messageID, conv string) error {
	k := []byte(canonicalMessageID(messageID))
	if len(k) == 0 {
		return nil
	}
	tx.Need(MessageIDLock(messageID))
	if tx.Get(bMessageIDs, k) != nil {
		return nil
	}
	return tx.Put(bMessageIDs, k, []byte(conv))
}

func canonicalMessageID(id string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(id), "<>"))
}

// ConversationByMessageID looks a Message-ID up in the index.
func ConversationByMessageID(tx *store.Tx, messageID string) (string, bool) {
	v := tx.Get(bMessageIDs, []byte(canonicalMessageID(messageID)))
	return string(v), v != nil
}

// ConversationByTag looks a subject-tag number up.
func ConversationByTag(tx *store.Tx, tag string) (string, bool) {
	v := tx.Get(bConvTags, []byte(strings.TrimSpace(tag)))
	return string(v), v != nil
}
