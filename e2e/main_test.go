// Package e2e holds whole-system scenarios: each test starts the built
// deskmail binary on loopback ports and a temporary data folder, talks to it
// the way a user or a mail client would (SMTP, `deskmail log`, `deskmail
// deliver`, signals) and checks what it says. chasquid's test/t-NN-*
// scripts are the model; these are the same idea written as Go tests, so
// they run with `go test ./...` and need nothing but Go.
//
// TestMain builds the binary once (with -race when the tests run with it).
// Every wait is bounded: a daemon that hangs fails the test, it never hangs
// the test run.
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the deskmail executable built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	tmp, err := os.MkdirTemp("", "deskmail-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(tmp)
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	binary = filepath.Join(tmp, "deskmail")
	args := []string{"build", "-o", binary}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/deskmail")
	build := exec.Command("go", args...)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go %s: %v\n%s", strings.Join(args, " "), err, out)
		return 1
	}
	return m.Run()
}

// repoRoot walks up from the test's working directory to go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// cleanEnv is the test's environment without DESKMAIL_* variables, so a
// developer's settings cannot change what a scenario sees.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DESKMAIL_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}
