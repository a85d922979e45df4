package httpapi

import (
	"errors"
	"net/http"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/store"
)

// The messaging center's automations (SPEC section 8).
func (s *Server) automationRoutes(mux router, auth func(http.Handler) http.Handler) {
	h := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, auth(fn)) }
	h("GET /v1/automations", s.listAutomations)
	h("GET /v1/automations/{id}", s.getAutomation)
	h("PUT /v1/automations/{id}", s.putAutomation)
	h("PATCH /v1/automations/{id}", s.patchAutomation)
	h("DELETE /v1/automations/{id}", s.deleteAutomation)
}

// AutomationInput is the body of PUT /v1/automations/{id}. The ID is the
// path's. For the built-in automation only action.text may change.
type AutomationInput struct {
	Name       string            `json:"name"`
	Enabled    *bool             `json:"enabled"` // default true
	Trigger    string            `json:"trigger"`
	Conditions center.Conditions `json:"conditions"`
	Action     center.Action     `json:"action"`
}

func (s *Server) writeCenterError(w http.ResponseWriter, r *http.Request, err error) {
	var fe *center.FieldError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Field, fe.Msg)
	case errors.Is(err, center.ErrBuiltin):
		writeError(w, http.StatusConflict, "", err.Error())
	case errors.Is(err, center.ErrNotFound):
		writeError(w, http.StatusNotFound, "id", err.Error())
	default:
		s.writeStoreError(w, r, "automations", err)
	}
}

func (s *Server) listAutomations(w http.ResponseWriter, r *http.Request) {
	all, err := store.ViewValue(r.Context(), s.DB, center.Automations)
	if err != nil {
		s.writeCenterError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"automations": all})
}

func (s *Server) getAutomation(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	a, err := store.ViewValue(r.Context(), s.DB, func(tx *store.Tx) (center.Automation, error) { return center.GetAutomation(tx, id) })
	if err != nil {
		s.writeCenterError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) putAutomation(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in AutomationInput
	if !decodeJSON(w, r, MaxSmallBodyBytes*4, &in) {
		return
	}
	a := center.Automation{ID: id, Name: in.Name, Enabled: in.Enabled == nil || *in.Enabled, Trigger: in.Trigger,
		Conditions: in.Conditions, Action: in.Action}
	var out center.Automation
	created := false
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		_, err := center.GetAutomation(tx, id)
		created = errors.Is(err, center.ErrNotFound)
		out, err = center.PutAutomation(tx, a, s.Clock.Now())
		return err
	})
	if err != nil {
		s.writeCenterError(w, r, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	writeJSON(w, code, out)
}

func (s *Server) patchAutomation(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	var in struct {
		Enabled *bool `json:"enabled"`
	}
	if !decodeJSON(w, r, MaxSmallBodyBytes, &in) {
		return
	}
	if in.Enabled == nil {
		writeError(w, http.StatusBadRequest, "enabled", "required: true or false")
		return
	}
	var out center.Automation
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		out, err = center.SetAutomationEnabled(tx, id, *in.Enabled, s.Clock.Now())
		return err
	})
	if err != nil {
		s.writeCenterError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) deleteAutomation(w http.ResponseWriter, r *http.Request) {
	id, ok := checkPathID(w, r, "id")
	if !ok {
		return
	}
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error { return center.DeleteAutomation(tx, id) })
	if err != nil {
		s.writeCenterError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"deleted": id})
}
