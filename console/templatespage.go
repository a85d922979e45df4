package console

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func (s *Server) templateRoutes(mux *http.ServeMux) {
	mux.Handle("GET /templates", s.read(s.templatesPage))
	mux.Handle("GET /templates/{name}", s.read(s.templatePage))
	mux.Handle("POST /templates/{name}", s.write(s.saveTemplate))
	mux.Handle("POST /templates/{name}/preview", s.write(s.previewTemplate))
	mux.Handle("POST /templates/{name}/reset", s.write(s.resetTemplate))
	mux.Handle("POST /templates/{name}/switch", s.write(s.switchTemplate))
}

func (s *Server) templatesPage(w http.ResponseWriter, r *http.Request) {
	if n := r.URL.Query().Get("new"); n != "" {
		if !templates.ValidName(n) {
			s.fail(w, r, http.StatusBadRequest, "A template name is 1-64 lowercase letters, digits or '_', starting with a letter.")
			return
		}
		http.Redirect(w, r, "/templates/"+n, http.StatusSeeOther)
		return
	}
	list, err := store.ViewValue(r.Context(), s.DB, templates.List)
	if err != nil {
		s.internal(w, r, "list the templates", err)
		return
	}
	s.render(w, r, http.StatusOK, "templates", page{Title: "Templates and system emails", Nav: "templates", Data: list})
}

// templateView is the data of /templates/{name}.
type templateView struct {
	T           templates.Template
	New         bool
	System      bool
	AlwaysOn    bool
	Enabled     bool
	Description string
	History     []templates.Template
	Automations []string
	Preview     templates.Rendered
	PreviewErr  string
	Fault       *templates.Error
}

func (s *Server) loadTemplate(ctx context.Context, name string) (templateView, error) {
	var v templateView
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		v.T, err = templates.Get(tx, name)
		if errors.Is(err, templates.ErrNotFound) {
			v.T, v.New, err = templates.Template{Name: name}, true, nil
		}
		if err != nil {
			return err
		}
		sys, isSys := templates.LookupSystem(name)
		v.System, v.AlwaysOn, v.Description, v.Enabled = isSys, sys.AlwaysOn, sys.Description, templates.Enabled(tx, name)
		if v.History, err = templates.History(tx, name); err != nil {
			return err
		}
		v.Automations, err = center.UsedBy(tx, name)
		return err
	})
	return v, err
}

func (s *Server) templatePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !templates.ValidName(name) {
		s.fail(w, r, http.StatusNotFound, "There is no such template.")
		return
	}
	v, err := s.loadTemplate(r.Context(), name)
	if err != nil {
		s.internal(w, r, "read the template", err)
		return
	}
	if !v.New {
		if v.Preview, err = templates.Render(v.T, templates.Sample()); err != nil {
			v.PreviewErr = err.Error()
		}
	}
	s.render(w, r, http.StatusOK, "template", page{Title: "Template " + name, Nav: "templates", Data: v})
}

func formTemplate(r *http.Request) templates.Template {
	return templates.Template{Name: r.PathValue("name"), Subject: r.PostFormValue("subject"),
		Text: r.PostFormValue("text"), HTML: r.PostFormValue("html")}
}

// saveTemplate stores a new version; a template that does not parse or
// render is refused with the part and line at fault, the draft stays in
// the form, and the stored version is untouched.
func (s *Server) saveTemplate(w http.ResponseWriter, r *http.Request) {
	t := formTemplate(r)
	err := templates.Validate(t)
	if err == nil {
		err = s.change(r, "template.save", t.Name, "", func(tx *store.Tx) error {
			_, err := templates.Save(tx, t, s.Clock.Now())
			return err
		})
	}
	var te *templates.Error
	if errors.As(err, &te) {
		v, lerr := s.loadTemplate(r.Context(), t.Name)
		if lerr != nil {
			s.internal(w, r, "read the template", lerr)
			return
		}
		// The preview keeps showing the saved version; the form, the draft.
		v.Preview, _ = templates.Render(v.T, templates.Sample())
		v.T.Subject, v.T.Text, v.T.HTML, v.Fault = t.Subject, t.Text, t.HTML, te
		s.render(w, r, http.StatusUnprocessableEntity, "template", page{Title: "Template " + t.Name, Nav: "templates",
			Error: "Refused; the saved version stays: " + te.Error(), Data: v})
		return
	}
	if err != nil {
		s.internal(w, r, "save the template", err)
		return
	}
	done(w, r, "/templates/"+url.PathEscape(t.Name), "template-saved")
}

// previewAnswer is the JSON the live preview of console.js reads.
type previewAnswer struct {
	templates.Rendered
	Error string `json:"error,omitempty"`
	Part  string `json:"part,omitempty"`
	Line  int    `json:"line,omitempty"`
}

// previewTemplate renders the draft in the form with the sample data;
// nothing is stored, but a draft is code the daemon runs, so only admins
// (who may save it anyway) preview drafts; viewers see the saved
// version's preview on the page.
func (s *Server) previewTemplate(w http.ResponseWriter, r *http.Request) {
	t := formTemplate(r)
	var a previewAnswer
	out, err := templates.Render(t, templates.Sample())
	if err == nil {
		// Render does not apply every check Save does (sizes, bounds).
		err = templates.Validate(t)
	}
	var te *templates.Error
	switch {
	case errors.As(err, &te):
		a.Error, a.Part, a.Line = te.Error(), te.Part, te.Line
	case err != nil:
		a.Error = err.Error()
	default:
		a.Rendered = out
	}
	w.Header().Set("Content-Type", "application/json")
	if a.Error != "" {
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	_ = json.NewEncoder(w).Encode(a)
}

func (s *Server) resetTemplate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	err := s.change(r, "template.reset", name, "", func(tx *store.Tx) error {
		_, err := templates.Reset(tx, name, s.Clock.Now())
		return err
	})
	if errors.Is(err, templates.ErrNotFound) {
		s.fail(w, r, http.StatusNotFound, "This template has no default to reset to.")
		return
	}
	if err != nil {
		s.internal(w, r, "reset the template", err)
		return
	}
	done(w, r, "/templates/"+url.PathEscape(name), "template-reset")
}

// switchTemplate turns a system email on or off (password reset: never off).
func (s *Server) switchTemplate(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	on := r.PostFormValue("enabled") == "on"
	what := map[bool]string{true: "on", false: "off"}[on]
	err := s.change(r, "system_email."+what, name, "", func(tx *store.Tx) error {
		return templates.SetEnabled(tx, name, on)
	})
	switch {
	case errors.Is(err, templates.ErrAlwaysOn):
		s.fail(w, r, http.StatusConflict, err.Error())
		return
	case errors.Is(err, templates.ErrNoSystem):
		s.fail(w, r, http.StatusNotFound, err.Error())
		return
	case err != nil:
		s.internal(w, r, "switch the system email", err)
		return
	}
	back := "/templates"
	if r.PostFormValue("back") == "template" {
		back = "/templates/" + url.PathEscape(name)
	}
	done(w, r, back, "email-"+what)
}
