package model

import (
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// Who is believed. An email's From may be forged, and a Message-ID
// known to a stranger; two marks on what an email became keep either
// from making deskmail email attacker-written text to people:
//
//   - a conversation opened by an unverified email (Conversation.
//     OpenedUnverified) sends the person it was opened in the name of no
//     email until an agent has written in it (AgentWrote);
//   - a message whose author was not a participant (Message.Outsider)
//     makes no customer follow or be notified; agents see it;
//   - a message whose From was not authenticated (Message.Unverified) is
//     emailed to no customer; agents see it and are emailed it.
//
// EmailWithheld is the one rule every path that emails a person about a
// message applies (messaging's recipients, the hold queue's re-check).
// A person made from an unverified email (Person.Unverified) is sent no
// system or automated email either (queue.Mailer.EnqueueSystem).

// bEmailMessages maps an email's Message-ID (canonical) to the message it
// became, to find the email a reply answers.
const bEmailMessages = "email_messages"

// EmailWithheld tells why message m of conversation c must not be emailed
// to person (of kind), or "" when nothing here withholds it.
func EmailWithheld(c Conversation, m Message, person string, kind notify.Kind) string {
	if m.Outsider && kind == notify.KindCustomer {
		return "written by someone who is not a participant of the conversation"
	}
	if c.OpenedUnverified != "" && c.OpenedUnverified == person && (c.AgentWrote == nil || m.Created.Before(*c.AgentWrote)) {
		return "the conversation was opened in this address's name by an unverified email and no agent has written in it yet"
	}
	if m.Unverified && kind == notify.KindCustomer {
		// Its From may be forged (a customer's name and a subject tag are
		// all it takes): agents see it, customers are not emailed it.
		return "written by an unverified sender: its From was not authenticated"
	}
	return ""
}

// keepTrust carries the marks of old over to c when c is written without
// them (the web app replacing a conversation it knows nothing of this about).
func keepTrust(c *Conversation, old Conversation) {
	if c.OpenedUnverified == "" {
		c.OpenedUnverified = old.OpenedUnverified
	}
	if c.AgentWrote == nil {
		c.AgentWrote = old.AgentWrote
	}
}

// noteAgentWrote records the first message of a user in a conversation
// opened by an unverified email.
func noteAgentWrote(tx *store.Tx, c *Conversation, author Person, at time.Time) error {
	if c.OpenedUnverified == "" || c.AgentWrote != nil || author.Kind != notify.KindUser {
		return nil
	}
	c.AgentWrote = &at
	if err := put(tx, bConversations, c.ID, c); err != nil {
		return err
	}
	// The agent has seen the conversation the person opened: they may
	// hear from us now.
	tx.Need(PersonLock(c.OpenedUnverified))
	var p Person
	if err := get(tx, bPeople, c.OpenedUnverified, &p); err != nil || !p.Unverified {
		return nil
	}
	p.Unverified = false
	return put(tx, bPeople, p.ID, p)
}

// MarkUnverified marks a person made from an unauthenticated email.
func MarkUnverified(tx *store.Tx, id string) error {
	tx.Need(PersonLock(id))
	p, err := GetPerson(tx, id)
	if err != nil || p.Unverified {
		return err
	}
	p.Unverified = true
	return put(tx, bPeople, p.ID, p)
}

func indexEmailMessage(tx *store.Tx, messageID, msg string) error {
	k := []byte(canonicalMessageID(messageID))
	if len(k) == 0 {
		return nil
	}
	tx.Need(MessageIDLock(messageID))
	if tx.Get(bEmailMessages, k) != nil {
		return nil
	}
	return tx.Put(bEmailMessages, k, []byte(msg))
}

// MessageByEmailID finds the message an inbound email (by its Message-ID)
// became. Messages appended before this index existed are not found.
func MessageByEmailID(tx *store.Tx, messageID string) (Message, error) {
	v := tx.Get(bEmailMessages, []byte(canonicalMessageID(messageID)))
	if v == nil {
		return Message{}, ErrNotFound
	}
	return GetMessage(tx, string(v))
}
