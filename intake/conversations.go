package intake

import (
	"context"
	"io"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// Bounds of what `deskmail conversations` reads.
const (
	maxConversationsListed = 1000
	maxMessagesShown       = 1000
	maxCountedMessages     = 10000
)

// ConversationSummary is a line of `deskmail conversations list`.
type ConversationSummary struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	Subject  string    `json:"subject,omitempty"`
	Tag      string    `json:"tag,omitempty"`
	Created  time.Time `json:"created"`
	Messages int       `json:"messages"`
}

// ConversationDetail is `deskmail conversations show ID`: the
// conversation and its messages, oldest first, each with its author as an
// operator knows them and, for a message that came by email, the quoted
// text and signature threading cut from it.
type ConversationDetail struct {
	Conversation model.Conversation `json:"conversation"`
	Messages     []MessageDetail    `json:"messages"`
}

// MessageDetail is one message of a ConversationDetail.
type MessageDetail struct {
	ID          string    `json:"id"`
	Author      string    `json:"author"`
	AuthorName  string    `json:"author_name"`
	Channel     string    `json:"channel"`
	Created     time.Time `json:"created"`
	Text        string    `json:"text"`
	Quoted      string    `json:"quoted,omitempty"`
	QuotedNote  string    `json:"quoted_note,omitempty"` // why Quoted is unknown
	MessageID   string    `json:"message_id,omitempty"`
	Original    string    `json:"original,omitempty"`
	Attachments int       `json:"attachments,omitempty"`
	Retracted   bool      `json:"retracted,omitempty"`
}

// ListConversations lists the newest conversations (by ID), at most limit.
func ListConversations(ctx context.Context, db *store.DB, limit int) ([]ConversationSummary, error) {
	if limit <= 0 || limit > maxConversationsListed {
		limit = maxConversationsListed
	}
	var out []ConversationSummary
	err := db.View(ctx, func(tx *store.Tx) error {
		cs, err := model.RecentConversations(tx, limit)
		if err != nil {
			return err
		}
		for _, c := range cs {
			ms, err := model.Messages(tx, c.ID, maxCountedMessages)
			if err != nil {
				return err
			}
			out = append(out, ConversationSummary{ID: c.ID, Kind: c.Kind, Subject: c.Subject, Tag: c.Tag, Created: c.Created, Messages: len(ms)})
		}
		return nil
	})
	return out, err
}

// ShowConversation reads one conversation for an operator.
func ShowConversation(ctx context.Context, db *store.DB, id string) (ConversationDetail, error) {
	var d ConversationDetail
	err := db.View(ctx, func(tx *store.Tx) error {
		c, err := model.GetConversation(tx, id)
		if err != nil {
			return err
		}
		d.Conversation = c
		ms, err := model.Messages(tx, id, maxMessagesShown)
		if err != nil {
			return err
		}
		for _, m := range ms {
			md := MessageDetail{ID: m.ID, Author: m.Author, AuthorName: m.Author, Channel: m.Channel, Created: m.Created,
				Text: m.Text, MessageID: m.MessageID, Original: m.Original, Attachments: len(m.Attachments), Retracted: m.Retracted != nil}
			if p, err := model.GetPerson(tx, m.Author); err == nil {
				md.AuthorName = personName(p)
			}
			d.Messages = append(d.Messages, md)
		}
		return nil
	})
	if err != nil {
		return d, err
	}
	// Outside the transaction: the originals may be spool files.
	for i := range d.Messages {
		if d.Messages[i].Original != "" {
			d.Messages[i].Quoted, d.Messages[i].QuotedNote = quotedPart(ctx, db, d.Messages[i].Original)
		}
	}
	return d, nil
}

// quotedPart is what threading cut from a stored email, or why that is
// unknown (the original is pruned after the retention).
func quotedPart(ctx context.Context, db *store.DB, stored string) (quoted, note string) {
	m, err := inbound.Load(ctx, db, stored)
	if err != nil {
		return "", "original email no longer kept"
	}
	rc, err := inbound.OpenRaw(ctx, db, m)
	if err != nil {
		return "", "original email no longer kept"
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxThreadBytes))
	if err != nil {
		return "", "original email unreadable: " + err.Error()
	}
	b, err := ExplainBody(raw)
	if err != nil {
		return "", err.Error()
	}
	return b.Quoted, ""
}
