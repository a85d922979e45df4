package httpapi

import (
	"errors"
	"net/http"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

// The messaging center's templates and system-email switches (SPEC
// section 8).
func (s *Server) templateRoutes(mux router, auth func(http.Handler) http.Handler) {
	h := func(pattern string, fn http.HandlerFunc) { mux.Handle(pattern, auth(fn)) }
	h("GET /v1/templates", s.listTemplates)
	h("GET /v1/templates/{name}", s.getTemplate)
	h("PUT /v1/templates/{name}", s.putTemplate)
	h("POST /v1/templates/{name}/preview", s.previewTemplate)
	h("POST /v1/templates/{name}/reset", s.resetTemplate)
	h("PATCH /v1/system-emails/{name}", s.patchSystemEmail)
	h("POST /v1/events", s.postEvent)
	s.automationRoutes(mux, auth)
}

// TemplateInput is the body of PUT /v1/templates/{name} and, optionally,
// of POST /v1/templates/{name}/preview (a draft to preview unsaved).
type TemplateInput struct {
	Subject string `json:"subject"`
	Text    string `json:"text"`
	HTML    string `json:"html"`
}

// TemplateView is the body of GET /v1/templates/{name}.
type TemplateView struct {
	Template templates.Template   `json:"template"`
	Enabled  bool                 `json:"enabled"`
	System   bool                 `json:"system"`
	AlwaysOn bool                 `json:"always_on,omitempty"`
	History  []templates.Template `json:"history"`
	// Automations lists the automations that send this template.
	Automations []string `json:"automations"`
}

// TemplateErrorBody is a refused template: the part and line at fault.
type TemplateErrorBody struct {
	Error string `json:"error"`
	Field string `json:"field"` // subject, text, html or name
	Line  int    `json:"line,omitempty"`
}

// MaxTemplateBodyBytes bounds a template body: three parts of
// templates.MaxPartBytes, JSON-escaped.
const MaxTemplateBodyBytes = 512 << 10

func templateName(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("name")
	if !templates.ValidName(name) {
		writeError(w, http.StatusBadRequest, "name", "must be 1-64 lowercase letters, digits or '_', starting with a letter")
		return "", false
	}
	return name, true
}

// writeTemplateError answers the errors of the templates package.
func (s *Server) writeTemplateError(w http.ResponseWriter, r *http.Request, err error) {
	var te *templates.Error
	switch {
	case errors.As(err, &te):
		writeJSON(w, http.StatusBadRequest, TemplateErrorBody{Error: te.Error(), Field: te.Part, Line: te.Line})
	case errors.Is(err, templates.ErrNotFound), errors.Is(err, templates.ErrNoSystem):
		writeError(w, http.StatusNotFound, "name", err.Error())
	case errors.Is(err, templates.ErrAlwaysOn):
		writeError(w, http.StatusConflict, "enabled", err.Error())
	default:
		s.writeStoreError(w, r, "templates", err)
	}
}

func (s *Server) listTemplates(w http.ResponseWriter, r *http.Request) {
	list, err := store.ViewValue(r.Context(), s.DB, templates.List)
	if err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"templates": list})
}

func (s *Server) getTemplate(w http.ResponseWriter, r *http.Request) {
	name, ok := templateName(w, r)
	if !ok {
		return
	}
	var v TemplateView
	err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		var err error
		if v.Template, err = templates.Get(tx, name); err != nil {
			return err
		}
		sys, isSys := templates.LookupSystem(name)
		v.System, v.AlwaysOn, v.Enabled = isSys, sys.AlwaysOn, templates.Enabled(tx, name)
		if v.History, err = templates.History(tx, name); err != nil {
			return err
		}
		v.Automations, err = center.UsedBy(tx, name)
		return err
	})
	if err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	if v.History == nil {
		v.History = []templates.Template{}
	}
	writeJSON(w, http.StatusOK, v)
}

// SavedTemplate is the answer to a PUT: the saved version and warnings
// about it (none when the field is absent).
type SavedTemplate struct {
	templates.Template
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Server) putTemplate(w http.ResponseWriter, r *http.Request) {
	name, ok := templateName(w, r)
	if !ok {
		return
	}
	var in TemplateInput
	if !decodeJSON(w, r, MaxTemplateBodyBytes, &in) {
		return
	}
	t := templates.Template{Name: name, Subject: in.Subject, Text: in.Text, HTML: in.HTML}
	// Refused before the transaction: a bad template changes nothing.
	if err := templates.Validate(t); err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	var out templates.Template
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		out, err = templates.Save(tx, t, s.Clock.Now())
		return err
	})
	if err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	// Saved; what the edit lost (the reply marker) is said, not refused.
	writeJSON(w, http.StatusOK, SavedTemplate{Template: out, Warnings: templates.Warnings(t)})
}

func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) {
	name, ok := templateName(w, r)
	if !ok {
		return
	}
	var draft *TemplateInput
	if r.ContentLength != 0 {
		draft = new(TemplateInput)
		if !decodeJSON(w, r, MaxTemplateBodyBytes, draft) {
			return
		}
	}
	out, err := store.ViewValue(r.Context(), s.DB, func(tx *store.Tx) (templates.Rendered, error) {
		if draft == nil {
			return templates.Preview(tx, name)
		}
		return templates.Render(templates.Template{Name: name, Subject: draft.Subject, Text: draft.Text, HTML: draft.HTML}, templates.Sample())
	})
	if err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) resetTemplate(w http.ResponseWriter, r *http.Request) {
	name, ok := templateName(w, r)
	if !ok {
		return
	}
	var out templates.Template
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		out, err = templates.Reset(tx, name, s.Clock.Now())
		return err
	})
	if err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// SystemEmailSwitch is the body of PATCH /v1/system-emails/{name}, and
// its answer.
type SystemEmailSwitch struct {
	Name    string `json:"name,omitempty"`
	Enabled *bool  `json:"enabled"`
}

func (s *Server) patchSystemEmail(w http.ResponseWriter, r *http.Request) {
	name, ok := templateName(w, r)
	if !ok {
		return
	}
	var in SystemEmailSwitch
	if !decodeJSON(w, r, MaxSmallBodyBytes, &in) {
		return
	}
	if in.Enabled == nil {
		writeError(w, http.StatusBadRequest, "enabled", "required: true or false")
		return
	}
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		return templates.SetEnabled(tx, name, *in.Enabled)
	})
	if err != nil {
		s.writeTemplateError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SystemEmailSwitch{Name: name, Enabled: in.Enabled})
}
