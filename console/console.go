// Package console is the operators' web console: server-rendered pages
// (html/template, assets embedded with embed, a little plain JavaScript)
// over the same domain packages the HTTP API uses: the 72-hour log
// (journal), the delivery story of a message (model, queue), the hold
// queue, the messaging center's templates and automations (templates,
// center), and the daemon's status.
//
// Server is mounted at "/" on the daemon's HTTP listener beside the API
// (Beside). Nothing but /login and its assets answers without a session;
// sessions are random ids stored server-side (session.go), accounts are
// bcrypt hashes in the store (package operators), every state-changing form
// carries the session's CSRF token, failed logins are rate limited per IP
// and per account (limit.go), and every change is written to the audit
// trail (journal.AppendAudit) with the operator who made it. Viewers read;
// admins change.
package console

import (
	"context"
	"crypto/subtle"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/operators"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

// CookieName is the session cookie.
const CookieName = "deskmail_session"

//go:embed ui
var uiFiles embed.FS

// Server holds what the pages need.
type Server struct {
	DB    *store.DB
	Clock clock.Clock
	Log   *slog.Logger
	// Queue runs the operators' retry and cancel; Wake, if set, tells the
	// worker a job became due.
	Queue *queue.Queue
	Wake  func()
	// Retention is the email log's: how far back pages look.
	Retention time.Duration
	// Daemon describes the running daemon for the status page (nil: the
	// page shows what the store alone knows).
	Daemon func() DaemonInfo
	// IPLimit and AccountLimit bound failed logins (zero: the defaults).
	IPLimit, AccountLimit Limit

	ipLimits, accountLimits *limiter
	accountKeys             *accountKeys
	verifying               chan struct{}
	pages                   map[string]*template.Template
}

// DaemonInfo is what only the running daemon knows, for the status page.
type DaemonInfo struct {
	Started   time.Time
	Listeners map[string]string
	Outbound  string // capture, relay or mx
	Via       string // the capture folder, the relay, "MX lookup"
	// Mailboxes, if set, tells how the IMAP mailboxes being fetched are
	// doing.
	Mailboxes func() []MailboxInfo
}

// MailboxInfo is one fetched IMAP mailbox on the status page.
type MailboxInfo struct {
	Name     string
	State    string // fetching, idle, polling, failing, standby, starting
	Error    string
	Failures int
	LastOK   time.Time
	Fetched  int64
	Owner    string // standby: the node that fetches it
}

type ctxKey struct{}

// visitor is the operator behind a request.
type visitor struct {
	Op      operators.Operator
	Session operators.Session
	ID      string
}

func current(r *http.Request) *visitor {
	v, _ := r.Context().Value(ctxKey{}).(*visitor)
	return v
}

// Handler returns the console's routes.
func (s *Server) Handler() http.Handler {
	if s.Clock == nil {
		s.Clock = clock.Real{}
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.IPLimit.Every == 0 {
		s.IPLimit = DefaultIPLimit
	}
	if s.AccountLimit.Every == 0 {
		s.AccountLimit = DefaultAccountLimit
	}
	s.ipLimits, s.accountLimits = newLimiter(s.IPLimit), newLimiter(s.AccountLimit)
	s.accountKeys = newAccountKeys()
	s.verifying = make(chan struct{}, MaxConcurrentLogins)
	s.pages = parsePages()

	mux := http.NewServeMux()
	static, _ := fs.Sub(uiFiles, "ui/static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.Handle("POST /logout", s.post(s.logout))
	mux.Handle("GET /{$}", s.read(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/log", http.StatusSeeOther)
	}))
	mux.Handle("GET /log", s.read(s.logPage))
	mux.Handle("GET /log/{id}", s.read(s.logEntry))
	mux.Handle("GET /messages/{id}", s.read(s.messagePage))
	mux.Handle("GET /status", s.read(s.statusPage))
	mux.Handle("GET /audit", s.read(s.auditPage))
	s.queueRoutes(mux)
	s.templateRoutes(mux)
	s.automationRoutes(mux)
	mux.Handle("/", s.read(func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, http.StatusNotFound, "There is no such page.")
	}))
	return secure(mux)
}

// secure sets the headers every answer carries: no framing, no sniffing,
// scripts only from our own files, and no caching of pages with data.
func secure(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		// Inline styles are allowed so the preview of an email's HTML (a
		// sandboxed srcdoc iframe, which inherits this policy) shows as
		// written; scripts never run inline.
		hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			hd.Set("Cache-Control", "no-store")
		}
		h.ServeHTTP(w, r)
	})
}

// Beside serves api for the API's paths and console for the rest, on one
// listener.
func Beside(api, console http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/v1/"), p == "/v1", p == "/healthz", p == "/livez", p == "/readyz",
			p == "/metrics", strings.HasPrefix(p, "/debug/"):
			api.ServeHTTP(w, r)
		default:
			console.ServeHTTP(w, r)
		}
	})
}

// withSession admits requests with a live session; others go to /login
// (GET) or are refused (anything else).
func (s *Server) withSession(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(CookieName)
		var v *visitor
		if err == nil {
			v = s.lookup(r.Context(), c.Value)
		}
		if v == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "log in first", http.StatusUnauthorized)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, v)))
	}
}

func (s *Server) lookup(ctx context.Context, id string) *visitor {
	now := s.Clock.Now()
	var v *visitor
	_ = s.DB.View(ctx, func(tx *store.Tx) error {
		sess, ok := operators.LookupSession(tx, id, now)
		if !ok {
			return nil
		}
		op, err := operators.GetOperator(tx, sess.Operator)
		if err != nil {
			return nil // removed: its sessions are gone too, but be sure
		}
		v = &visitor{Op: op, Session: sess, ID: id}
		return nil
	})
	return v
}

// read is a page any operator may see.
func (s *Server) read(h http.HandlerFunc) http.Handler { return s.withSession(h) }

// post is a form any operator may send (logout): it needs the
// CSRF token.
func (s *Server) post(h http.HandlerFunc) http.Handler {
	return s.withSession(func(w http.ResponseWriter, r *http.Request) {
		if !s.checkCSRF(w, r) {
			return
		}
		h(w, r)
	})
}

// write is a change: admins only, with the CSRF token.
func (s *Server) write(h http.HandlerFunc) http.Handler {
	return s.withSession(func(w http.ResponseWriter, r *http.Request) {
		if !s.checkCSRF(w, r) {
			return
		}
		if current(r).Op.Role != operators.RoleAdmin {
			s.fail(w, r, http.StatusForbidden, "Viewers can look but not change: ask an admin.")
			return
		}
		h(w, r)
	})
}

// MaxConcurrentLogins bounds the password checks that run at once.
const MaxConcurrentLogins = 2

// MaxFormBytes bounds a form: a template's three parts and some slack.
const MaxFormBytes = 512 << 10

// checkCSRF wants the session's token in the form field "csrf" or the
// X-CSRF-Token header, and a same-origin request where the browser says.
func (s *Server) checkCSRF(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, http.StatusBadRequest, "The form could not be read (too large?).")
		return false
	}
	tok := r.Header.Get("X-CSRF-Token")
	if tok == "" {
		tok = r.PostFormValue("csrf")
	}
	want := current(r).Session.CSRF
	if tok == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(want)) != 1 || !sameOrigin(r) {
		s.fail(w, r, http.StatusForbidden, "This form is stale or did not come from the console: reload the page and try again.")
		return false
	}
	return true
}

// sameOrigin refuses a request whose Origin header names another site.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// audit records an operator's change in its own transaction step.
func audit(tx *store.Tx, r *http.Request, now time.Time, action, target, detail string) error {
	actor := "unknown"
	if v := current(r); v != nil {
		actor = v.Op.Name
	}
	return journal.AppendAudit(tx, &journal.Audit{Time: now, Actor: actor, Action: action, Target: target,
		Detail: detail, IP: httpapi.RemoteHost(r)})
}

// change runs fn and the audit record of it in one commit.
func (s *Server) change(r *http.Request, action, target, detail string, fn func(tx *store.Tx) error) error {
	now := s.Clock.Now()
	return s.DB.Update(r.Context(), func(tx *store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return audit(tx, r, now, action, target, detail)
	})
}
