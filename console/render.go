package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/deskmail/deskmail/operators"
)

// page is what every template gets: the operator, the CSRF token for its
// forms, and the page's own data.
type page struct {
	Title   string
	Nav     string
	Op      operators.Operator
	CSRF    string
	Admin   bool
	Flash   string
	Error   string
	Data    any
	Now     time.Time
	Version string
}

var funcs = template.FuncMap{
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "–"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "–"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return fmt.Sprint(t)
	},
	"join":   strings.Join,
	"slice3": func(a, b, c string) []string { return []string{a, b, c} },
	"sw": func(name string, enabled, alwaysOn bool, back string, p page) map[string]any {
		return map[string]any{"Name": name, "Enabled": enabled, "AlwaysOn": alwaysOn, "Back": back, "Admin": p.Admin, "CSRF": p.CSRF}
	},
	"row": func(j any, p page) map[string]any {
		return map[string]any{"Job": j, "Admin": p.Admin, "CSRF": p.CSRF}
	},
	"classes": func() []string { return []string{"human", "auto_reply", "bounce", "bulk", "looping"} },
	"short":   func(s string, n int) string { return shorten(s, n) },
	"plural": func(n int, word string) string {
		if n == 1 {
			return "1 " + word
		}
		return fmt.Sprintf("%d %ss", n, word)
	},
	"bytes": func(n int64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"has": func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	},
}

func shorten(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// parsePages builds one template set per page: the layout plus the page.
func parsePages() map[string]*template.Template {
	names, err := fs.Glob(uiFiles, "ui/*.html")
	if err != nil {
		panic(err)
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "ui/"), ".html")
		if base == "layout" {
			continue
		}
		out[base] = template.Must(template.New(base).Funcs(funcs).ParseFS(uiFiles, "ui/layout.html", "ui/*.tmpl", n))
	}
	return out
}

// render writes page name; a template error is the server's fault, and
// is logged, never shown.
func (s *Server) render(w http.ResponseWriter, r *http.Request, code int, name string, p page) {
	if v := current(r); v != nil {
		p.Op, p.CSRF, p.Admin = v.Op, v.Session.CSRF, v.Op.Role == operators.RoleAdmin
	}
	if p.Flash == "" {
		p.Flash = flashes[r.URL.Query().Get("done")]
	}
	p.Now, p.Version = s.Clock.Now(), buildVersion
	t, ok := s.pages[name]
	if !ok {
		panic("console: no page " + name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.Log.Error("render page", "page", name, "err", err.Error())
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = buf.WriteTo(w)
}

// fail shows a page with an error message and the status code.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if current(r) == nil {
		http.Error(w, msg, code)
		return
	}
	s.render(w, r, code, "error", page{Title: http.StatusText(code), Error: msg})
}

// internal logs err and shows a page that says nothing of the internals.
func (s *Server) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.Log.Error(what, "err", err, "path", r.URL.Path)
	s.fail(w, r, http.StatusInternalServerError, "Something went wrong while trying to "+what+"; the daemon's log says more.")
}

// flashes are the lines the success box may show, by the key in the
// URL's done parameter: the URL chooses one, it never supplies the text
// (a link with ?done=Re-enter+your+password+at+... shows nothing).
var flashes = map[string]string{
	"automation-saved":   "The automation is saved.",
	"automation-on":      "The automation is now on.",
	"automation-off":     "The automation is now off.",
	"automation-deleted": "The automation is deleted.",
	"retried":            "The job is queued again.",
	"cancelled":          "The job is cancelled.",
	"template-saved":     "Saved as a new version.",
	"template-reset":     "Reset to the default.",
	"email-on":           "The email is now on.",
	"email-off":          "The email is now off.",
}

// done redirects after a change, with the key of a line in flashes
// saying what happened (the Post/Redirect/Get pattern: a reload does not
// send the form again).
func done(w http.ResponseWriter, r *http.Request, to, key string) {
	if _, ok := flashes[key]; !ok { // a key missing from flashes: no line, the change is done all the same
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+key, http.StatusSeeOther)
}
