package main

import (
	"bytes"
	"strings"
	"testing"
)

// complete runs cobra's hidden completion command as a shell would.
func complete(t *testing.T, args ...string) string {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(append([]string{"__complete"}, args...))
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestCompletionKnowsTheTypes(t *testing.T) {
	cases := []struct {
		args []string
		want string // the whole answer: words, then the directive
	}{
		// A choice completes to its words, no files (directive 4).
		{[]string{"serve", "--log-format", ""}, "text\njson\n:4\n"},
		{[]string{"serve", "--outbound", ""}, "capture\nrelay\nmx\n:4\n"},
		// A size, a duration, a number: nothing, and no file names.
		{[]string{"serve", "--max-message-bytes", ""}, ":4\n"},
		{[]string{"serve", "--hold", ""}, ":4\n"},
		{[]string{"serve", "--max-recipients", ""}, ":4\n"},
		// A path keeps file completion (directive 0).
		{[]string{"serve", "--tls-cert", ""}, ":0\n"},
	}
	for _, c := range cases {
		got := complete(t, c.args...)
		// cobra appends a human line ("Completion ended with directive: ...").
		if i := strings.Index(got, "Completion ended"); i >= 0 {
			got = got[:i]
		}
		if got != c.want {
			t.Errorf("complete %v = %q, want %q", c.args, got, c.want)
		}
	}
}

func TestRootVersionFlag(t *testing.T) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--version"})
	if err := root.Execute(); err != nil || !strings.HasPrefix(out.String(), "deskmail version ") {
		t.Errorf("deskmail --version: %v %q", err, out.String())
	}
}
