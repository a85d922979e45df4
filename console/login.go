package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/operators"
	"github.com/deskmail/deskmail/store"
)

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil && s.lookup(r.Context(), c.Value) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "login", page{Title: "Log in", Data: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a redirect after login on this site: a path, with no
// control character or backslash (browsers drop tabs and newlines and read
// "\\" as "/", so "/\t/evil" and "/\\evil" would name another host).
func safeNext(next string) string {
	const home = "/log"
	if len(next) > 2000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/login") ||
		strings.ContainsFunc(next, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }) {
		return home
	}
	if u, err := url.Parse(next); err != nil || u.Host != "" || u.Scheme != "" {
		return home
	}
	return next
}

// login checks the form fields user and password. A wrong pair and a
// limited attempt get the same words, so the page tells a guesser nothing
// about which names exist.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil || !sameOrigin(r) {
		http.Error(w, "bad login form", http.StatusBadRequest)
		return
	}
	user := strings.ToLower(strings.TrimSpace(r.PostFormValue("user")))
	password := r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	ip, now := httpapi.RemoteHost(r), s.Clock.Now()
	again := func(code int, msg string) {
		s.render(w, r, code, "login", page{Title: "Log in", Error: msg, Data: next})
	}
	if user == "" || len(user) > 64 || password == "" || len(password) > 200 {
		again(http.StatusBadRequest, "Give a user name and a password.")
		return
	}
	// The account is looked up first: its bucket depends on whether it
	// exists (limit.go). The lookup is a read of a small table; the
	// password check, which is what costs, comes after the limits.
	var op operators.Operator
	found := false
	if err := s.DB.View(r.Context(), func(tx *store.Tx) error {
		var err error
		op, err = operators.GetOperator(tx, user)
		found = err == nil
		if errors.Is(err, operators.ErrNoOperator) {
			return nil
		}
		return err
	}); err != nil {
		s.internal(w, r, "check the login", err)
		return
	}
	ipTry, ipOK := s.ipLimits.take(clientKey(ip), now)
	accountTry, accountOK := (*rate.Reservation)(nil), false
	if ipOK {
		accountTry, accountOK = s.accountLimits.take(s.accountKeys.key(user, found), now)
	}
	if !ipOK || !accountOK {
		refund(ipTry, now)
		s.Log.Warn("console login refused: too many failures", "user", user, "ip", ip)
		w.Header().Set("Retry-After", strconv.Itoa(int(max(s.IPLimit.Every, s.AccountLimit.Every)/time.Second)))
		again(http.StatusTooManyRequests, "Too many failed logins: wait a minute and try again.")
		return
	}
	// A bcrypt comparison costs a core a quarter of a second: at most
	// MaxConcurrentLogins run at once, so a flood of logins (many IPs,
	// many names) queues up instead of starving the mail.
	select {
	case s.verifying <- struct{}{}:
	case <-r.Context().Done():
		// The client went away while waiting: the try stays spent (it
		// counted before any check) and the journal says so, as for a
		// failure, so the audit trail explains every spent try.
		s.Log.Warn("console login abandoned while waiting for the password check", "user", user, "ip", ip)
		err := s.DB.Update(context.WithoutCancel(r.Context()), func(tx *store.Tx) error {
			return operators.Audit(tx, user, now, "login.abandoned", user, "the client went away before the password was checked", ip)
		})
		if err != nil {
			s.Log.Error("journal an abandoned login", "err", err)
		}
		return
	}
	ok := operators.Verify(op, found, password)
	<-s.verifying
	if !ok {
		s.Log.Warn("console login failed", "user", user, "ip", ip)
		err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
			return operators.Audit(tx, user, now, "login.failed", user, "wrong user name or password", ip)
		})
		if err != nil {
			s.Log.Error("journal a failed login", "err", err)
		}
		again(http.StatusUnauthorized, operators.ErrBadLogin.Error()+".")
		return
	}
	refund(ipTry, now)
	refund(accountTry, now)
	var id string
	var sess operators.Session
	err := s.DB.Update(r.Context(), func(tx *store.Tx) error {
		var err error
		if id, sess, err = operators.StartSession(tx, op.Name, ip, now); err != nil {
			return err
		}
		return operators.Audit(tx, op.Name, now, "login", op.Name, "role "+op.Role, ip)
	})
	if err != nil {
		s.internal(w, r, "start a session", err)
		return
	}
	// Max-Age, not Expires: a lifetime counted by the browser's own clock,
	// so a client whose clock is off does not drop (or keep) the cookie
	// at the wrong time; the server checks the session's expiry anyway.
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: id, Path: "/", MaxAge: max(1, int(sess.Expires.Sub(now).Seconds())),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isTLS(r)})
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// isTLS: the request came over TLS, here or at a proxy that says so (the
// header can only make the cookie stricter, so trusting it is safe).
func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	v := current(r)
	err := s.change(r, "logout", v.Op.Name, "", func(tx *store.Tx) error { return operators.EndSession(tx, v.ID) })
	if err != nil {
		s.internal(w, r, "end the session", err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isTLS(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
