package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBadConfigNamesKey starts the daemon with one bad setting from each
// layer (flag, environment, config file) and checks that it refuses to
// start with a message that names the setting, so an operator knows what
// to fix.
func TestBadConfigNamesKey(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"flag with a bad size", []string{"--max-message-bytes", "abc"}, nil, "max-message-bytes"},
		{"environment variable with a bad duration", nil, []string{"DESKMAIL_READ_TIMEOUT=xyz"}, "DESKMAIL_READ_TIMEOUT"},
		{"config file with an unknown key", []string{"--config", filepath.Join("testdata", "unknown-key.toml")}, nil, "max-mesage-bytes"},
		{"flag with a bad number", []string{"--max-recipients", "-3"}, nil, "max-recipients"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			r := runCLI(t, nil, tc.env, append(baseServeArgs(dir), tc.args...)...)
			if r.Code == 0 {
				t.Fatalf("deskmail serve started (exit 0) with a bad setting")
			}
			if !strings.Contains(r.Stderr, tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, r.Stderr)
			}
			if strings.Contains(r.Stderr, "deskmail ready") {
				t.Errorf("the daemon said it was ready before refusing:\n%s", r.Stderr)
			}
		})
	}
}

// TestMaxMessageBytesAlone lowers only --max-message-bytes, as an operator
// who wants small messages would. The header cap is a default the
// operator never set, so it must follow the message cap down instead of
// stopping the start.
func TestMaxMessageBytesAlone(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "--max-message-bytes", "10KB")
	c, err := dialSMTP(d.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n, ok := c.MaxMessageSize(); !ok || n != 10_000 {
		t.Errorf("EHLO announces SIZE %d (%v), want 10000", n, ok)
	}
	_ = c.Quit()
	d.stop()
}
