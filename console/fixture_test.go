package console

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/operators"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

func init() { operators.HashCost = bcrypt.MinCost } // the real cost makes -race runs crawl

const testPassword = "correct horse battery"

// fixture is a console over a real bbolt file, served by httptest.
type fixture struct {
	t   testing.TB
	db  *store.DB
	clk *clock.Fake
	s   *Server
	h   http.Handler
	srv *httptest.Server
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFake(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	f := &fixture{t: t, db: db, clk: clk}
	f.s = &Server{DB: db, Clock: clk, Queue: &queue.Queue{Clock: clk}, Retention: 72 * time.Hour}
	f.h = f.s.Handler()
	f.srv = httptest.NewServer(f.h)
	t.Cleanup(f.srv.Close)
	f.addOperator("alice", operators.RoleAdmin)
	f.addOperator("victor", operators.RoleViewer)
	return f
}

func (f *fixture) addOperator(name, role string) {
	f.t.Helper()
	hash, err := operators.HashPassword(testPassword)
	if err != nil {
		f.t.Fatal(err)
	}
	f.update(func(tx *store.Tx) error {
		_, err := operators.AddAccount(tx, name, role, hash, "test", f.clk.Now())
		return err
	})
}

func (f *fixture) update(fn func(tx *store.Tx) error) {
	f.t.Helper()
	if err := f.db.Update(context.Background(), fn); err != nil {
		f.t.Fatal(err)
	}
}

// client is a browser: a cookie jar, and redirects not followed so the
// test sees them.
func (f *fixture) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login logs c in as name and returns the login answer.
func (f *fixture) login(c *http.Client, name, password string) *http.Response {
	f.t.Helper()
	resp, err := c.PostForm(f.srv.URL+"/login", url.Values{"user": {name}, "password": {password}})
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// session logs in and returns the client and its CSRF token.
func (f *fixture) session(name string) (*http.Client, string) {
	f.t.Helper()
	c := f.client()
	if resp := f.login(c, name, testPassword); resp.StatusCode != http.StatusSeeOther {
		f.t.Fatalf("login %s: %s", name, resp.Status)
	}
	_, body := f.get(c, "/templates")
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(body)
	if m == nil {
		f.t.Fatalf("no CSRF token on the page:\n%s", body)
	}
	return c, m[1]
}

func (f *fixture) get(c *http.Client, path string) (*http.Response, string) {
	f.t.Helper()
	resp, err := c.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (f *fixture) post(c *http.Client, path string, form url.Values) (*http.Response, string) {
	f.t.Helper()
	resp, err := c.PostForm(f.srv.URL+path, form)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// audits returns the audit trail, newest first.
func (f *fixture) audits() []journal.Audit {
	f.t.Helper()
	var as []journal.Audit
	if err := f.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		as, err = journal.Audits(tx, 1000, "")
		return err
	}); err != nil {
		f.t.Fatal(err)
	}
	return as
}

func (f *fixture) hasAudit(actor, action, target string) bool {
	for _, a := range f.audits() {
		if a.Actor == actor && a.Action == action && a.Target == target {
			return true
		}
	}
	return false
}

func contains(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }
