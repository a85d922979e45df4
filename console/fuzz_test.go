package console

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzSafeNext: whatever a visitor puts in ?next=, the login sends them
// to a path of this site, never to another host.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/log", "//evil.example/x", "/\\evil.example", "https://evil.example/", "/login?next=/log",
		"/messages/1?person=a", "", "javascript:alert(1)", "/%2F%2Fevil.example", "/\t/evil.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("safeNext(%q) = %q does not parse", next, got)
		}
		if u.Host != "" || u.Scheme != "" || !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") {
			t.Fatalf("safeNext(%q) = %q leaves the site", next, got)
		}
		// Browsers drop tabs and newlines in URLs: "/\t/x" is "//x".
		clean := strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(got)
		if strings.HasPrefix(clean, "//") || strings.HasPrefix(clean, "/\\") {
			t.Fatalf("safeNext(%q) = %q is a host to a browser", next, got)
		}
	})
}
