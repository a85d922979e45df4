package e2e

import (
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOperatorsOfflineThenLogin manages console accounts on a stopped
// daemon's data folder, then logs in over HTTP with what is left.
func TestOperatorsOfflineThenLogin(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("first long password\nignored second line\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := runCLI(t, nil, nil, "operators", "add", "vic", "--role", "viewer", "--password-file", pwFile, "--data", dir); r.Code != 0 {
		t.Fatalf("operators add: %s", r.Stderr)
	}
	cases := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"a second account of the same name", "another long password\n", []string{"add", "vic"}, "exists"},
		{"a short password", "short\n", []string{"add", "bob"}, "at least 10 bytes"},
		{"a role that does not exist", "another long password\n", []string{"add", "bob", "--role", "root"}, "not one of admin, viewer"},
		{"removing nobody", "", []string{"remove", "nobody"}, "no such operator"},
	}
	for _, c := range cases {
		r := runCLI(t, strings.NewReader(c.stdin), nil, append(append([]string{"operators"}, c.args...), "--data", dir)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, c.want) {
			t.Errorf("%s: exit %d, stderr %q, want %q", c.name, r.Code, r.Stderr, c.want)
		}
	}
	if r := runCLI(t, strings.NewReader("second long password\n"), nil, "operators", "passwd", "vic", "--data", dir); r.Code != 0 {
		t.Fatalf("operators passwd: %s", r.Stderr)
	}
	d := startDaemon(t, dir)
	login := func(pw string) int {
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.PostForm("http://"+d.HTTP+"/login", url.Values{"user": {"vic"}, "password": {pw}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// One listener: the API's paths answer JSON, the rest is the console,
	// which wants a session first.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for path, want := range map[string]string{"/v1/no-such-thing": "application/json", "/queue": "text/html; charset=utf-8/login?next=%2Fqueue", "/healthz": "application/json"} {
		resp, err := noRedirect.Get("http://" + d.HTTP + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Content-Type") + resp.Header.Get("Location"); got != want {
			t.Errorf("GET %s: %s %q, want %q", path, resp.Status, got, want)
		}
	}
	if code := login("first long password"); code != http.StatusUnauthorized {
		t.Errorf("the old password: %d, want 401", code)
	}
	if code := login("second long password"); code != http.StatusSeeOther {
		t.Errorf("the new password: %d, want a session", code)
	}
	// Through the running daemon now.
	if r := runCLI(t, nil, nil, "operators", "remove", "vic", "--data", dir); r.Code != 0 {
		t.Fatalf("operators remove: %s", r.Stderr)
	}
	if code := login("second long password"); code != http.StatusUnauthorized {
		t.Errorf("a removed operator: %d, want 401", code)
	}
	if r := runCLI(t, nil, nil, "operators", "list", "--json", "--data", dir); strings.TrimSpace(r.Stdout) != "[]" {
		t.Errorf("operators list after remove: %q %q", r.Stdout, r.Stderr)
	}
}
