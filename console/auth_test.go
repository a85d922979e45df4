package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/operators"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func TestNothingButLoginWithoutSession(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, p := range []string{"/", "/log", "/log?partial=1", "/messages/m1", "/queue", "/queue/j1", "/templates",
		"/templates/welcome", "/automations", "/automations/new-message", "/status", "/audit", "/no-such-page"} {
		resp, _ := f.get(c, p)
		if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login?next=") {
			t.Errorf("GET %s without a session: %s to %q, want 303 to /login", p, resp.Status, resp.Header.Get("Location"))
		}
	}
	for _, p := range []string{"/templates/welcome/switch", "/templates/welcome", "/templates/welcome/preview",
		"/queue/j1/retry", "/automations/x/delete", "/logout"} {
		resp, _ := f.post(c, p, url.Values{"enabled": {"off"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("POST %s without a session: %s, want 401", p, resp.Status)
		}
	}
	for _, p := range []string{"/login", "/static/console.css", "/static/console.js"} {
		if resp, _ := f.get(c, p); resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %s, want 200", p, resp.Status)
		}
	}
	f.update(func(tx *store.Tx) error {
		if !templates.Enabled(tx, templates.Welcome) {
			t.Error("an unauthenticated POST switched the welcome email off")
		}
		return nil
	})
}

func TestLoginCookieSessionAndLogout(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	resp := f.login(c, "alice", testPassword)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/log" {
		t.Fatalf("login: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	var ck *http.Cookie
	for _, x := range resp.Cookies() {
		if x.Name == CookieName {
			ck = x
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure || len(ck.Value) != 64 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, 32 random bytes", ck)
	}
	// The store keeps only a hash of the id.
	f.update(func(tx *store.Tx) error {
		if tx.Get(operators.BucketSessions, []byte(ck.Value)) != nil {
			t.Error("the raw session id is a key of the store")
		}
		if _, ok := operators.LookupSession(tx, ck.Value, f.clk.Now()); !ok {
			t.Error("the session is not stored")
		}
		return nil
	})
	if r, body := f.get(c, "/log"); r.StatusCode != http.StatusOK || !strings.Contains(body, "alice (admin)") {
		t.Fatalf("GET /log with the session: %s", r.Status)
	}
	if !f.hasAudit("alice", "login", "alice") {
		t.Error("the login is not in the audit trail")
	}

	// Behind a TLS proxy the cookie is Secure.
	req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"user": {"alice"}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-Proto", "https")
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	if cs := rec.Result().Cookies(); len(cs) != 1 || !cs[0].Secure {
		t.Errorf("login over TLS: cookies %+v, want one Secure cookie", cs)
	}

	_, csrf := f.session("alice")
	_ = csrf
	c2, tok := f.session("alice")
	if r, _ := f.post(c2, "/logout", url.Values{"csrf": {tok}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %s", r.Status)
	}
	if r, _ := f.get(c2, "/log"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after logout GET /log: %s, want a redirect to /login", r.Status)
	}
}

func TestWrongPasswordUnknownUserAndExpiry(t *testing.T) {
	f := newFixture(t)
	c := f.client()
	for _, who := range [][2]string{{"alice", "wrong password!"}, {"mallory", testPassword}} {
		resp, body := f.post(c, "/login", url.Values{"user": {who[0]}, "password": {who[1]}})
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "wrong user name or password") {
			t.Errorf("login %s: %s, want 401 with the same words for both", who[0], resp.Status)
		}
		if !f.hasAudit(who[0], "login.failed", who[0]) {
			t.Errorf("the failed login of %s is not journaled", who[0])
		}
	}
	c, _ = f.session("victor")
	f.clk.Advance(operators.SessionTTL)
	if r, _ := f.get(c, "/log"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("GET /log after %s: %s, want the expired session sent to /login", operators.SessionTTL, r.Status)
	}
}

func TestPasswordChangeAndRemovalEndSessions(t *testing.T) {
	f := newFixture(t)
	c, _ := f.session("victor")
	hash, _ := operators.HashPassword("another long password")
	f.update(func(tx *store.Tx) error { return operators.ChangePassword(tx, "victor", hash, "test", f.clk.Now()) })
	if r, _ := f.get(c, "/log"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after passwd: %s, want the old session ended", r.Status)
	}
	if r := f.login(f.client(), "victor", testPassword); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("old password after passwd: %s", r.Status)
	}
	c, _ = f.session("alice")
	f.update(func(tx *store.Tx) error { return operators.RemoveAccount(tx, "alice", "test", f.clk.Now()) })
	if r, _ := f.get(c, "/log"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after remove: %s, want the session ended", r.Status)
	}
}

func TestCSRFTokenRequired(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("alice")
	cases := map[string]url.Values{
		"no token":    {"enabled": {"off"}},
		"wrong token": {"enabled": {"off"}, "csrf": {strings.Repeat("0", 64)}},
	}
	for name, form := range cases {
		t.Run(name, func(t *testing.T) {
			r, body := f.post(c, "/templates/welcome/switch", form)
			if r.StatusCode != http.StatusForbidden || !strings.Contains(body, "stale") {
				t.Errorf("%s: %s, want 403", name, r.Status)
			}
		})
	}
	// A cross-site request with the right token is refused too.
	req, _ := http.NewRequest(http.MethodPost, f.srv.URL+"/templates/welcome/switch",
		strings.NewReader(url.Values{"enabled": {"off"}, "csrf": {tok}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if r, err := c.Do(req); err != nil || r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin POST: %v %v, want 403", r.Status, err)
	}
	f.update(func(tx *store.Tx) error {
		if !templates.Enabled(tx, templates.Welcome) {
			t.Fatal("a POST without a valid token switched the email off")
		}
		return nil
	})
	r, _ := f.post(c, "/templates/welcome/switch", url.Values{"enabled": {"off"}, "csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("with the token: %s", r.Status)
	}
	f.update(func(tx *store.Tx) error {
		if templates.Enabled(tx, templates.Welcome) {
			t.Error("the switch with the token did not take")
		}
		return nil
	})
	if !f.hasAudit("alice", "system_email.off", "welcome") {
		t.Errorf("the switch is not journaled with who did it: %+v", f.audits())
	}
}

func TestViewersLookButDoNotChange(t *testing.T) {
	f := newFixture(t)
	c, tok := f.session("victor")
	for _, p := range []string{"/log", "/queue", "/templates", "/templates/welcome", "/automations", "/automations/new-message", "/status", "/audit"} {
		if r, _ := f.get(c, p); r.StatusCode != http.StatusOK {
			t.Errorf("viewer GET %s: %s", p, r.Status)
		}
	}
	_, body := f.get(c, "/templates")
	if strings.Contains(body, "Switch off") {
		t.Error("a viewer is offered the switch")
	}
	for p, form := range map[string]url.Values{
		"/templates/welcome/switch": {"enabled": {"off"}},
		"/templates/welcome":        {"subject": {"x"}, "text": {"x"}, "html": {"x"}},
		"/templates/welcome/reset":  {},
		"/queue/j1/retry":           {},
		"/automations/new-message":  {"text": {"changed"}},
	} {
		form.Set("csrf", tok)
		if r, _ := f.post(c, p, form); r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s: %s, want 403", p, r.Status)
		}
	}
	// A draft is code the daemon runs: viewers may not preview one
	// (issue 21, item 4), and their page does not offer it.
	if r, _ := f.post(c, "/templates/welcome/preview", url.Values{"csrf": {tok}, "subject": {"Hi"}, "text": {"t"}, "html": {"<p>h</p>"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer preview of a draft: %s, want 403", r.Status)
	}
	if _, body := f.get(c, "/templates/welcome"); strings.Contains(body, "data-preview") || !strings.Contains(body, `id="preview-html"`) {
		t.Error("a viewer's template page offers the live preview of drafts, or lacks the saved version's preview")
	}
	f.update(func(tx *store.Tx) error {
		if !templates.Enabled(tx, templates.Welcome) {
			t.Error("a viewer switched the email off")
		}
		return nil
	})
}

func TestFailedLoginsRateLimitedPerIPAndAccount(t *testing.T) {
	f := newFixture(t)
	try := func(ip, user, pw string) int {
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"user": {user}, "password": {pw}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.RemoteAddr = ip + ":40000"
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		return rec.Code
	}
	for i := range DefaultIPLimit.Burst {
		if code := try("192.0.2.1", "nobody"+string(rune('a'+i)), "wrong password"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, code)
		}
	}
	// The IP is out of tries: even the right password is refused.
	if code := try("192.0.2.1", "alice", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("IP over its limit: %d, want 429", code)
	}
	// Another IP is not.
	if code := try("192.0.2.2", "alice", testPassword); code != http.StatusSeeOther {
		t.Errorf("other IP: %d, want a login", code)
	}
	// An account guessed at from many IPs runs out too.
	for i := range DefaultAccountLimit.Burst {
		try("198.51.100."+string(rune('1'+i)), "victor", "wrong password")
	}
	if code := try("203.0.113.9", "victor", testPassword); code != http.StatusTooManyRequests {
		t.Errorf("account over its limit from a fresh IP: %d, want 429", code)
	}
	// Time refills the buckets.
	f.clk.Advance(time.Duration(DefaultAccountLimit.Burst) * DefaultAccountLimit.Every)
	if code := try("192.0.2.1", "victor", testPassword); code != http.StatusSeeOther {
		t.Errorf("after waiting: %d, want a login", code)
	}
	n := 0
	for _, a := range f.audits() {
		if a.Action == "login.failed" {
			n++
		}
	}
	if n != DefaultIPLimit.Burst+DefaultAccountLimit.Burst {
		t.Errorf("%d failed logins journaled, want %d", n, DefaultIPLimit.Burst+DefaultAccountLimit.Burst)
	}
}

// Issue 21, item 7: 25 simultaneous wrong logins for one account from one
// address, over real HTTP, get the burst of 401s and then 429s: every
// attempt is counted before its password is checked.
func TestParallelWrongLoginsMeetTheLimit(t *testing.T) {
	f := newFixture(t)
	const n = 25
	codes := make(chan int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, err := http.PostForm(f.srv.URL+"/login", url.Values{"user": {"alice"}, "password": {"wrong password"}})
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	want := min(DefaultIPLimit.Burst, DefaultAccountLimit.Burst)
	if count[http.StatusUnauthorized] != want || count[http.StatusTooManyRequests] != n-want {
		t.Errorf("answers %v: want %d times 401 and %d times 429", count, want, n-want)
	}
	// The right password is refused too until time refills the bucket.
	if resp := f.login(f.client(), "alice", testPassword); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("right password after the burst: %s, want 429", resp.Status)
	}
}

// A right password gives its token back: an operator who logs in often
// is never limited.
func TestSuccessfulLoginsSpendNothing(t *testing.T) {
	f := newFixture(t)
	for i := range 3 * DefaultIPLimit.Burst {
		if resp := f.login(f.client(), "alice", testPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %d: %s", i+1, resp.Status)
		}
	}
}
