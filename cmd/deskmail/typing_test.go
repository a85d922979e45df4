package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func runRoot(args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

// A wrong value for a typed flag exits non-zero naming what it takes.
func TestUnknownChoiceIsRefusedNamingTheChoices(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"log", "--class", "foo"}, "human, auto_reply, bounce, bulk, looping"},
		{[]string{"log", "--direction", "sideways"}, "in, out"},
		{[]string{"log", "--status", "lost"}, "received, rejected"},
		{[]string{"log", "--hours", "soon"}, "neither hours"},
		{[]string{"operators", "add", "ann", "--role", "boss"}, "admin, viewer"},
		{[]string{"dkim", "keygen", "--algorithm", "dsa"}, "rsa, ed25519"},
		{[]string{"bench", "smtp", "--size", "5XB"}, "--size"},
	} {
		_, err := runRoot(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("deskmail %s: %v, want an error naming %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// --hours takes plain hours and durations alike.
func TestLogHoursTakesDurations(t *testing.T) {
	for _, h := range []string{"2h", "90m", "72", "1.5"} {
		_, err := runRoot("log", "--hours", h, "--data", t.TempDir())
		if err == nil || strings.Contains(err.Error(), "hours") || !strings.Contains(err.Error(), "no data") {
			t.Errorf("log --hours %s: %v, want only the empty data folder refused", h, err)
		}
	}
}

func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" && c.Name() != "completion" && (c.Parent() == nil || c.Parent().Name() != "completion") {
			if c.Example == "" {
				t.Errorf("%q has no Examples in its help", c.CommandPath())
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(newRootCmd())
	out, err := runRoot("log", "--help")
	if err != nil || !strings.Contains(out, "Examples:\n  deskmail log --hours 72") {
		t.Errorf("log --help: %v\n%s", err, out)
	}
}

func TestHelpSaysTheTruth(t *testing.T) {
	help := func(args ...string) string {
		t.Helper()
		out, err := runRoot(args...)
		if err != nil || !strings.Contains(out, "Usage:") {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		return out
	}
	if out := help("why", "--help"); strings.Contains(out, "--retention") {
		t.Errorf("why --help offers --retention:\n%s", out)
	}
	if out := help("deliver", "--help"); strings.Contains(out, "EHLO") {
		t.Errorf("deliver --help speaks of EHLO:\n%s", out)
	}
	if out, _ := runRoot("bench", "smtp", "--help"); !strings.Contains(out, "--size size") {
		t.Errorf("bench smtp --help: --size is not a size:\n%s", out)
	}
}
