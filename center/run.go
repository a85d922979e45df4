package center

import (
	"errors"
	"slices"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

// AutomationAuthor is the bot that authors the messages automations post.
const AutomationAuthor = "deskmail-automation"

// automations runs, in list order, the enabled automations whose trigger
// is the event and whose conditions hold.
func (h *handler) automations() error {
	ev := h.out.Event
	all, err := Automations(h.tx)
	if err != nil {
		return err
	}
	var item *model.Item
	project := ev.Project
	if ev.Item != "" {
		it, err := model.GetItem(h.tx, ev.Item)
		if err != nil && !errors.Is(err, model.ErrNotFound) {
			return err
		}
		if err == nil {
			item, project = &it, it.Project
		}
	}
	for _, a := range all {
		if !a.Enabled || a.Trigger != ev.Type {
			continue
		}
		if len(a.Conditions.Projects) > 0 && !slices.Contains(a.Conditions.Projects, project) ||
			len(a.Conditions.Statuses) > 0 && !slices.Contains(a.Conditions.Statuses, ev.Status) {
			continue
		}
		if item == nil {
			h.skip("automation %s: no item %s", a.ID, ev.Item)
			continue
		}
		switch a.Action.Kind {
		case PostMessage:
			err = h.postMessage(a, *item)
		case SendEmail:
			err = h.sendEmail(a, *item)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// postMessage posts the automation's text through messaging.PostTx, so its
// recipients are those of any message (SPEC section 2), and their
// notifications are held for email like any other.
func (h *handler) postMessage(a Automation, item model.Item) error {
	if h.s.Messaging == nil {
		h.skip("automation %s: messaging is not wired", a.ID)
		return nil
	}
	if err := h.ensureAuthor(); err != nil {
		return err
	}
	conv, err := h.conversation(item)
	if err != nil {
		return err
	}
	m := model.Message{ID: store.NewID(h.now), Conversation: conv, Author: AutomationAuthor, Channel: "automation", Text: a.Action.Text}
	_, notes, err := messaging.PostTx(h.tx, m, h.now)
	if err != nil {
		return err
	}
	if err := h.s.Messaging.Notified(h.tx, notes); err != nil {
		return err
	}
	h.notes = append(h.notes, notes...)
	h.out.Messages = append(h.out.Messages, m.ID)
	return nil
}

func (h *handler) ensureAuthor() error {
	if _, err := model.GetPerson(h.tx, AutomationAuthor); err == nil {
		return nil
	}
	return model.PutPerson(h.tx, model.Person{ID: AutomationAuthor, Kind: notify.KindBot, Name: "Automation",
		Emails: []string{}, Settings: notify.DefaultSettings(), Created: h.now})
}

// conversation is the event's conversation, or the item's updates
// conversation (external, so customers who follow the item are told too),
// made on first use.
func (h *handler) conversation(item model.Item) (string, error) {
	if id := h.out.Event.Conversation; id != "" {
		c, err := model.GetConversation(h.tx, id)
		if err != nil || c.Item != item.ID {
			return "", &FieldError{"conversation", "no such conversation of item " + item.ID}
		}
		return id, nil
	}
	id := item.ID + ".updates"
	if len(id) > 64 {
		id = item.ID[:56] + ".updates"
	}
	if _, err := model.GetConversation(h.tx, id); err == nil {
		return id, nil
	}
	c := model.Conversation{ID: id, Item: item.ID, Kind: model.External, Subject: item.Title, Followers: []string{}, Created: h.now}
	return id, model.PutConversation(h.tx, &c)
}

// sendEmail sends the automation's template to the item's followers,
// assignees and/or customers (the item's followers who are customers).
func (h *handler) sendEmail(a Automation, item model.Item) error {
	d := templates.Data{ActorName: h.name(h.out.Event.Actor), Link: h.out.Event.Link, Status: h.out.Event.Status}
	if err := h.itemData(&d); err != nil {
		return err
	}
	var to []string
	add := func(ids []string, customersOnly bool) {
		for _, id := range ids {
			if slices.Contains(to, id) || id == h.out.Event.Actor {
				continue
			}
			p, err := model.GetPerson(h.tx, id)
			if err != nil || p.Kind == notify.KindBot || customersOnly && p.Kind != notify.KindCustomer {
				continue
			}
			to = append(to, id)
		}
	}
	for _, who := range a.Action.To {
		switch who {
		case ToFollowers:
			add(item.Followers, false)
		case ToAssignees:
			add(item.Assignees, false)
		case ToCustomer:
			add(item.Followers, true)
		}
	}
	for _, id := range to {
		if err := h.sendTemplate(a.Action.Template, id, d); err != nil {
			return err
		}
	}
	return nil
}
