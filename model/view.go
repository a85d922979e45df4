package model

import (
	"errors"
	"fmt"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// View reads the model through one transaction for notify (notify.Model)
// and threading (threading.Index), so a decision is taken on one snapshot.
type View struct{ Tx *store.Tx }

var _ notify.Model = View{}

// Person implements notify.Model.
func (v View) Person(id string) (notify.Person, error) {
	p, err := GetPerson(v.Tx, id)
	if errors.Is(err, ErrNotFound) {
		return notify.Person{}, fmt.Errorf("person %s: %w", id, notify.ErrNotFound)
	}
	return notify.Person{ID: p.ID, Kind: p.Kind, Settings: p.Settings}, err
}

// Conversation implements notify.Model.
func (v View) Conversation(id string) (notify.Conversation, error) {
	c, err := GetConversation(v.Tx, id)
	if errors.Is(err, ErrNotFound) {
		return notify.Conversation{}, fmt.Errorf("conversation %s: %w", id, notify.ErrNotFound)
	}
	if err != nil {
		return notify.Conversation{}, err
	}
	nc := notify.Conversation{ID: c.ID, Internal: c.Kind == Internal, ItemID: c.Item, Followers: c.Followers}
	if c.Item != "" {
		if it, err := GetItem(v.Tx, c.Item); err == nil {
			nc.ProjectID = it.Project
		}
	}
	return nc, nil
}

// ItemFollowers implements notify.Model.
func (v View) ItemFollowers(id string) ([]string, error) {
	it, err := GetItem(v.Tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return it.Followers, err
}

// ProjectFollowers implements notify.Model.
func (v View) ProjectFollowers(id string) ([]string, error) {
	p, err := GetProject(v.Tx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	return p.Followers, err
}

// UsersNotifiedOfAll implements notify.Model from the two small indexes
// PutPerson keeps.
func (v View) UsersNotifiedOfAll(o notify.Origin) ([]string, error) {
	bucket := bUsersAllCust
	if o == notify.OriginUser {
		bucket = bUsersAllReply
	}
	var ids []string
	err := v.Tx.Scan(bucket, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k))
		return true, nil
	})
	return ids, err
}

// ConversationByMessageID implements threading.Index.
func (v View) ConversationByMessageID(id string) (string, bool, error) {
	c, ok := ConversationByMessageID(v.Tx, id)
	return c, ok, nil
}

// ConversationByTag implements threading.Index.
func (v View) ConversationByTag(tag string) (string, bool, error) {
	c, ok := ConversationByTag(v.Tx, tag)
	return c, ok, nil
}

// PersonByEmail implements threading.Index.
func (v View) PersonByEmail(addr string) (string, bool, error) {
	p, err := PersonByEmail(v.Tx, addr)
	if errors.Is(err, ErrNotFound) {
		return "", false, nil
	}
	return p.ID, err == nil, err
}

// Follows implements threading.Index.
func (v View) Follows(person, conv string) (bool, error) {
	c, err := GetConversation(v.Tx, conv)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return Follows(v.Tx, person, c), nil
}
