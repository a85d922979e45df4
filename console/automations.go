package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func (s *Server) automationRoutes(mux *http.ServeMux) {
	mux.Handle("GET /automations", s.read(s.automationsPage))
	mux.Handle("GET /automations/{id}", s.read(s.automationPage))
	mux.Handle("POST /automations/{id}", s.write(s.saveAutomation))
	mux.Handle("POST /automations/{id}/switch", s.write(s.switchAutomation))
	mux.Handle("POST /automations/{id}/delete", s.write(s.deleteAutomation))
}

func (s *Server) automationsPage(w http.ResponseWriter, r *http.Request) {
	if n := r.URL.Query().Get("new"); n != "" {
		if !model.ValidID(n) {
			s.fail(w, r, http.StatusBadRequest, "An automation id is 1-64 letters, digits, '.', '_' or '-'.")
			return
		}
		http.Redirect(w, r, "/automations/"+url.PathEscape(n), http.StatusSeeOther)
		return
	}
	all, err := store.ViewValue(r.Context(), s.DB, center.Automations)
	if err != nil {
		s.internal(w, r, "list the automations", err)
		return
	}
	s.render(w, r, http.StatusOK, "automations", page{Title: "Automations", Nav: "automations", Data: all})
}

type automationView struct {
	A         center.Automation
	New       bool
	Triggers  []string
	Templates []templates.Info
}

func (s *Server) automationView(ctx context.Context, id string) (automationView, error) {
	v := automationView{Triggers: center.EventTypes}
	err := s.DB.View(ctx, func(tx *store.Tx) error {
		var err error
		v.A, err = center.GetAutomation(tx, id)
		if errors.Is(err, center.ErrNotFound) {
			v.A, v.New, err = center.Automation{ID: id, Enabled: true, Action: center.Action{Kind: center.PostMessage}}, true, nil
		}
		if err != nil {
			return err
		}
		v.Templates, err = templates.List(tx)
		return err
	})
	return v, err
}

func (s *Server) automationPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !model.ValidID(id) {
		s.fail(w, r, http.StatusNotFound, "There is no such automation.")
		return
	}
	v, err := s.automationView(r.Context(), id)
	if err != nil {
		s.internal(w, r, "read the automation", err)
		return
	}
	s.render(w, r, http.StatusOK, "automation", page{Title: "Automation " + id, Nav: "automations", Data: v})
}

// list splits a comma- or space-separated field.
func list(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' })
}

// saveAutomation creates or replaces an automation through center's
// rules: for the built-in one only the text is taken.
func (s *Server) saveAutomation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	f := r.PostForm
	a := center.Automation{ID: id, Enabled: true, Action: center.Action{Text: f.Get("text")}}
	if id != center.BuiltinID {
		a.Name, a.Trigger, a.Enabled = f.Get("name"), f.Get("trigger"), f.Get("enabled") == "on"
		a.Conditions = center.Conditions{Projects: list(f.Get("projects")), Statuses: list(f.Get("statuses"))}
		a.Action.Kind = f.Get("kind")
		if a.Action.Kind == center.SendEmail {
			a.Action.Text, a.Action.Template, a.Action.To = "", f.Get("template"), f["to"]
		}
	}
	err := s.change(r, "automation.save", id, a.Action.Kind, func(tx *store.Tx) error {
		_, err := center.PutAutomation(tx, a, s.Clock.Now())
		return err
	})
	var fe *center.FieldError
	if errors.As(err, &fe) || errors.Is(err, center.ErrBuiltin) {
		v, lerr := s.automationView(r.Context(), id)
		if lerr != nil {
			s.internal(w, r, "read the automation", lerr)
			return
		}
		builtin := v.A.Builtin
		v.A = a
		v.A.Builtin = builtin
		s.render(w, r, http.StatusUnprocessableEntity, "automation", page{Title: "Automation " + id, Nav: "automations",
			Error: "Refused, nothing changed: " + err.Error(), Data: v})
		return
	}
	if err != nil {
		s.internal(w, r, "save the automation", err)
		return
	}
	done(w, r, "/automations", "automation-saved")
}

func (s *Server) switchAutomation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	on := r.PostFormValue("enabled") == "on"
	what := map[bool]string{true: "on", false: "off"}[on]
	err := s.change(r, "automation."+what, id, "", func(tx *store.Tx) error {
		_, err := center.SetAutomationEnabled(tx, id, on, s.Clock.Now())
		return err
	})
	s.automationDone(w, r, err, "automation-"+what)
}

func (s *Server) deleteAutomation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	err := s.change(r, "automation.delete", id, "", func(tx *store.Tx) error { return center.DeleteAutomation(tx, id) })
	s.automationDone(w, r, err, "automation-deleted")
}

func (s *Server) automationDone(w http.ResponseWriter, r *http.Request, err error, flash string) {
	switch {
	case errors.Is(err, center.ErrBuiltin):
		s.fail(w, r, http.StatusConflict, err.Error())
	case errors.Is(err, center.ErrNotFound):
		s.fail(w, r, http.StatusNotFound, "There is no such automation.")
	case err != nil:
		s.internal(w, r, "change the automation", err)
	default:
		done(w, r, "/automations", flash)
	}
}
