package e2e

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// TestVersion: `deskmail version` of the built binary reports its module
// and the Go version it was built with, and the running daemon reports
// the same build in /readyz and its ready line.
func TestVersion(t *testing.T) {
	r := runCLI(t, nil, nil, "version")
	if r.Code != 0 || !strings.HasPrefix(r.Stdout, "deskmail ") || !strings.Contains(r.Stdout, "go:       "+runtime.Version()) ||
		!strings.Contains(r.Stdout, "module:   github.com/deskmail/deskmail") {
		t.Fatalf("deskmail version: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	r = runCLI(t, nil, nil, "version", "--json")
	var in struct {
		Module, Version string
		GoVersion       string `json:"go_version"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &in); err != nil || in.Module != "github.com/deskmail/deskmail" ||
		in.GoVersion != runtime.Version() || in.Version == "" {
		t.Fatalf("deskmail version --json: %v %+v\n%s", err, in, r.Stdout)
	}

	d := startDaemon(t, t.TempDir())
	ready := api(t, d, "GET", "/readyz", "")
	if ready["status"] != "ready" || ready["version"] != in.Version {
		t.Errorf("/readyz = %v, want version %q", ready, in.Version)
	}
	d.stop()
	if log := strings.Join(d.out.all(), "\n"); !strings.Contains(log, "deskmail ready") || !strings.Contains(log, "version="+quoteIfNeeded(in.Version)) {
		t.Errorf("the ready line does not carry the version %q:\n%s", in.Version, log)
	}
}

// quoteIfNeeded is how slog's text handler writes a value.
func quoteIfNeeded(s string) string {
	if strings.ContainsAny(s, " =\"") {
		b, _ := json.Marshal(s)
		return string(b)
	}
	return s
}
