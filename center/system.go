package center

import (
	"errors"
	"slices"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/templates"
)

// systemEmails sends the system emails of the event (SPEC sections 3 and
// 8), each only when switched on (password reset always is) and, for
// assignment changes and new members, when the recipient's setting says so.
func (h *handler) systemEmails() error {
	ev := h.out.Event
	d := templates.Data{ActorName: h.name(ev.Actor), Link: ev.Link, Status: ev.Status}
	switch ev.Type {
	case UserCreated:
		return h.system(templates.Welcome, ev.Person, d)
	case PasswordResetRequested:
		return h.system(templates.PasswordReset, ev.Person, d)
	case ItemAssigned, ItemUnassigned:
		p, err := model.GetPerson(h.tx, ev.Person)
		if err != nil {
			h.skip("%s: no person %s", templates.AssignmentChange, ev.Person)
			return nil
		}
		if !p.Settings.AssignmentChanges {
			h.skip("%s: %s has assignment-change emails off", templates.AssignmentChange, p.ID)
			return nil
		}
		if ev.Person == ev.Actor {
			h.skip("%s: %s changed their own assignment", templates.AssignmentChange, p.ID)
			return nil
		}
		if err := h.itemData(&d); err != nil {
			return err
		}
		d.Assigned = ev.Type == ItemAssigned
		return h.system(templates.AssignmentChange, ev.Person, d)
	case ProjectInvited:
		return h.invited(d)
	case ProjectMemberAdded:
		return h.memberAdded(d, ev.Person, ev.Team)
	}
	return nil
}

// system sends a system email if it is switched on.
func (h *handler) system(name, person string, d templates.Data) error {
	if !templates.Enabled(h.tx, name) {
		h.skip("%s: switched off", name)
		return nil
	}
	return h.sendTemplate(name, person, d)
}

// itemData fills the item's title and project name.
func (h *handler) itemData(d *templates.Data) error {
	it, err := model.GetItem(h.tx, h.out.Event.Item)
	if errors.Is(err, model.ErrNotFound) {
		d.ItemTitle = h.out.Event.Item
		return nil
	}
	if err != nil {
		return err
	}
	d.ItemTitle = it.Title
	if d.ItemTitle == "" {
		d.ItemTitle = it.ID
	}
	if p, err := model.GetProject(h.tx, it.Project); err == nil {
		d.ProjectName = p.Name
	}
	return nil
}

// invited: a user who accepts all invitations is added to the project's
// followers and told so (SPEC section 3); the project's followers then
// learn of the new member. Anyone else gets the invitation.
func (h *handler) invited(d templates.Data) error {
	ev := h.out.Event
	proj, err := model.GetProject(h.tx, ev.Project)
	if err != nil {
		return &FieldError{"project", "no such project"}
	}
	d.ProjectName = proj.Name
	p, err := model.GetPerson(h.tx, ev.Person)
	if err != nil {
		return &FieldError{"person", "no such person"}
	}
	if p.Kind == notify.KindUser && p.Settings.AcceptInvitations {
		d.Accepted = true
		if !slices.Contains(proj.Followers, p.ID) {
			proj.Followers = append(proj.Followers, p.ID)
			if err := model.PutProject(h.tx, proj); err != nil {
				return err
			}
		}
		if err := h.system(templates.Invitation, p.ID, d); err != nil {
			return err
		}
		return h.memberAdded(templates.Data{ActorName: d.ActorName, Link: d.Link}, p.ID, "")
	}
	return h.system(templates.Invitation, p.ID, d)
}

// memberAdded tells the project's followers whose "New users and teams"
// setting is on that a user or team joined (neither the newcomer nor
// whoever added them).
func (h *handler) memberAdded(d templates.Data, person, team string) error {
	ev := h.out.Event
	proj, err := model.GetProject(h.tx, ev.Project)
	if err != nil {
		return &FieldError{"project", "no such project"}
	}
	d.ProjectName = proj.Name
	d.MemberName = team
	if person != "" {
		d.MemberName = h.name(person)
	}
	if !templates.Enabled(h.tx, templates.NewMember) {
		h.skip("%s: switched off", templates.NewMember)
		return nil
	}
	for _, f := range proj.Followers {
		if f == person || f == ev.Actor {
			continue
		}
		p, err := model.GetPerson(h.tx, f)
		if err != nil || p.Kind != notify.KindUser || !p.Settings.NewMembers {
			continue
		}
		if err := h.sendTemplate(templates.NewMember, f, d); err != nil {
			return err
		}
	}
	return nil
}
