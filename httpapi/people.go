package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// PersonInput is the body of PUT /v1/people/{id}. The ID is the path's.
type PersonInput struct {
	Kind   notify.Kind `json:"kind"`
	Name   string      `json:"name"`
	Emails []string    `json:"emails"`
	// Settings are optional, and so is each of their fields: the fields
	// given are applied over notify.DefaultSettings for a new person and
	// over the person's own for an existing one, so a profile update from
	// the web app does not reset what the user chose. Kept raw until then,
	// and decoded on their own so that errors name "settings.FIELD".
	Settings json.RawMessage `json:"settings"`
}

// applySettings decodes raw settings over base.
func applySettings(base notify.Settings, raw json.RawMessage) (notify.Settings, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return base, nil
	}
	err := decodeStrict(bytes.NewReader(raw), &base)
	return base, err
}

func (s *Server) putPerson(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in PersonInput
	if !decodeJSON(w, r, MaxBodyBytes, &in) {
		return
	}
	if in.Kind == "" {
		writeError(w, http.StatusBadRequest, "kind", "required: user, customer or bot")
		return
	}
	// Refuse bad settings before the transaction; in it they are applied
	// over the stored ones, which cannot make them fail.
	if _, err := applySettings(notify.DefaultSettings(), in.Settings); err != nil {
		writeDecodeError(w, err, "settings.")
		return
	}
	now := s.Clock.Now()
	var out model.Person
	created := false
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		p := model.Person{ID: id, Kind: in.Kind, Name: in.Name, Emails: append([]string(nil), in.Emails...), Created: now}
		old, err := model.GetPerson(tx, id)
		switch {
		case err == nil:
			p.Created, p.Settings = old.Created, old.Settings
		case errors.Is(err, model.ErrNotFound):
			p.Settings = notify.DefaultSettings()
		default:
			return err
		}
		created = err != nil
		if p.Settings, err = applySettings(p.Settings, in.Settings); err != nil {
			return err
		}
		if p.Emails == nil {
			p.Emails = []string{}
		}
		if err := model.PutPerson(tx, p); err != nil {
			return err
		}
		out, err = model.GetPerson(tx, id) // what was stored: normalised addresses
		return err
	})
	if errors.Is(err, model.ErrConflict) {
		writeError(w, http.StatusConflict, "emails", conflictText(err))
		return
	}
	if err != nil {
		s.writeStoreError(w, r, "put person", err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, out)
}

func (s *Server) getPerson(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	p, err := store.ViewValue(r.Context(), s.DB, func(tx *store.Tx) (model.Person, error) { return model.GetPerson(tx, id) })
	if err != nil {
		s.writeStoreError(w, r, "get person", err)
		return
	}
	if p.Emails == nil {
		p.Emails = []string{}
	}
	writeJSON(w, http.StatusOK, p)
}

// SettingsPatch is the body of PATCH /v1/people/{id}/settings: a preset,
// any settings, or both. The preset is applied first, so a field given
// beside it wins ("support_manager, but only followed projects").
type SettingsPatch struct {
	Preset            *string               `json:"preset"`
	Visibility        *notify.Visibility    `json:"visibility"`
	ShowFromCustomers *bool                 `json:"show_from_customers"`
	FromCustomers     *notify.FromCustomers `json:"from_customers"`
	FromUsers         *notify.FromUsers     `json:"from_users"`
	FollowedInternal  *bool                 `json:"followed_internal"`
	AssignmentChanges *bool                 `json:"assignment_changes"`
	NewMembers        *bool                 `json:"new_members"`
	AcceptInvitations *bool                 `json:"accept_invitations"`
}

// apply returns cur changed by the patch.
func (p SettingsPatch) apply(cur notify.Settings) (notify.Settings, error) {
	if p.Preset != nil {
		var err error
		if cur, err = notify.ApplyPreset(cur, *p.Preset); err != nil {
			return cur, err
		}
	}
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	if p.Visibility != nil {
		cur.Visibility = *p.Visibility
	}
	if p.FromCustomers != nil {
		cur.FromCustomers = *p.FromCustomers
	}
	if p.FromUsers != nil {
		cur.FromUsers = *p.FromUsers
	}
	set(&cur.ShowFromCustomers, p.ShowFromCustomers)
	set(&cur.FollowedInternal, p.FollowedInternal)
	set(&cur.AssignmentChanges, p.AssignmentChanges)
	set(&cur.NewMembers, p.NewMembers)
	set(&cur.AcceptInvitations, p.AcceptInvitations)
	return cur, cur.Validate()
}

// patchSettings reads, changes and writes the settings in one transaction,
// so two concurrent patches of different fields both survive.
func (s *Server) patchSettings(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var patch SettingsPatch
	if !decodeJSON(w, r, MaxSmallBodyBytes, &patch) {
		return
	}
	var out notify.Settings
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		p, err := model.GetPerson(tx, id)
		if err != nil {
			return err
		}
		if p.Settings, err = patch.apply(p.Settings); err != nil {
			return err
		}
		out = p.Settings
		return model.PutPerson(tx, p)
	})
	if err != nil {
		s.writeStoreError(w, r, "patch settings", err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// Inbox limits of GET /v1/people/{id}/notifications.
const (
	DefaultInboxLimit = 50
	MaxInboxLimit     = 500
)

// InboxResponse is the body of GET /v1/people/{id}/notifications.
type InboxResponse struct {
	Notifications []NotificationView `json:"notifications"`
	// Unread counts every unseen notification of the person, not only
	// those in this page.
	Unread int `json:"unread"`
}

// NotificationView is a notification as the API shows it (inbox and
// stream).
type NotificationView struct {
	Person       string     `json:"person"`
	Message      string     `json:"message"`
	Conversation string     `json:"conversation"`
	Reason       string     `json:"reason"`
	NotifiedAt   time.Time  `json:"notified_at"`
	SeenAt       *time.Time `json:"seen_at,omitempty"`
}

func notificationView(n model.Notification) NotificationView {
	return NotificationView{Person: n.Person, Message: n.Message, Conversation: n.Conversation,
		Reason: n.Reason, NotifiedAt: n.Created, SeenAt: n.Seen}
}

func (s *Server) getNotifications(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	limit, ok := queryLimit(w, r, DefaultInboxLimit, MaxInboxLimit)
	if !ok {
		return
	}
	var ns []model.Notification
	var unread int
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		if _, err := model.GetPerson(tx, id); err != nil {
			return err
		}
		var err error
		ns, unread, err = model.Inbox(tx, id, limit)
		return err
	})
	if err != nil {
		s.writeStoreError(w, r, "read inbox", err)
		return
	}
	resp := InboxResponse{Notifications: make([]NotificationView, 0, len(ns)), Unread: unread}
	for _, n := range ns {
		resp.Notifications = append(resp.Notifications, notificationView(n))
	}
	writeJSON(w, http.StatusOK, resp)
}
