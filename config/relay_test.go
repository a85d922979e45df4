package config

import (
	"strings"
	"testing"
)

// TestRelayCombinations: a relay given alone means relay mode; every
// combination that would leave a relay setting unused stops the start
// with an error naming the settings and where they came from.
func TestRelayCombinations(t *testing.T) {
	cases := []struct {
		name     string
		args     []string
		env      []string
		file     string
		outbound string   // the mode when it starts
		errHas   []string // or the error must name all of these
	}{
		{name: "nothing: capture", outbound: "capture"},
		{name: "relay alone means relay", args: []string{"--relay", "127.0.0.1:2500"}, outbound: "relay"},
		{name: "relay from env alone", env: []string{"DESKMAIL_RELAY=smtp.example.com:587"}, outbound: "relay"},
		{name: "relay in the file alone", file: "relay = \"smtp.example.com:587\"\n", outbound: "relay"},
		{name: "outbound relay with relay", args: []string{"--outbound", "relay", "--relay", "127.0.0.1:2500"}, outbound: "relay"},
		{name: "relay with auth", args: []string{"--relay", "smtp.example.com:587", "--relay-username", "u"},
			env: []string{"DESKMAIL_RELAY_PASSWORD=p"}, outbound: "relay"},
		{name: "relay insecure", args: []string{"--relay", "127.0.0.1:25", "--relay-insecure"}, outbound: "relay"},
		{name: "mx alone", args: []string{"--outbound", "mx"}, outbound: "mx"},
		{name: "relay off", args: []string{"--relay", "off"}, outbound: "capture"},
		{name: "capture with relay", args: []string{"--outbound", "capture", "--relay", "127.0.0.1:2500"},
			errHas: []string{"--outbound capture", "flag --outbound", "--relay", "flag --relay", "contradict"}},
		{name: "capture in the file, relay in env", file: "outbound = \"capture\"\n", env: []string{"DESKMAIL_RELAY=127.0.0.1:2500"},
			errHas: []string{"--outbound capture", `key "outbound"`, "environment variable DESKMAIL_RELAY"}},
		{name: "mx with relay", args: []string{"--outbound", "mx", "--relay", "127.0.0.1:2500"},
			errHas: []string{"--outbound mx", "--relay", "MX"}},
		{name: "outbound relay without relay", args: []string{"--outbound", "relay"},
			errHas: []string{"--outbound relay", "flag --outbound", "needs --relay"}},
		{name: "outbound relay from env without relay", env: []string{"DESKMAIL_OUTBOUND=relay"},
			errHas: []string{"--outbound relay", "DESKMAIL_OUTBOUND", "needs --relay"}},
		{name: "username without relay", args: []string{"--relay-username", "u"},
			errHas: []string{"--relay-username", "flag --relay-username", "--relay is not set"}},
		{name: "password without relay", env: []string{"DESKMAIL_RELAY_PASSWORD=p"},
			errHas: []string{"--relay-password", "DESKMAIL_RELAY_PASSWORD", "--relay is not set"}},
		{name: "insecure without relay", args: []string{"--outbound", "mx", "--relay-insecure"},
			errHas: []string{"--relay-insecure", "--relay is not set", "outbound is mx"}},
		{name: "username without password", args: []string{"--relay", "smtp.example.com:587", "--relay-username", "u"},
			errHas: []string{"--relay-username", "--relay-password", "both"}},
		{name: "password without username", args: []string{"--relay", "smtp.example.com:587", "--relay-password", "p"},
			errHas: []string{"--relay-username", "--relay-password", "its default"}},
		{name: "relay without port", args: []string{"--relay", "smtp.example.com"},
			errHas: []string{"--relay", "flag --relay", "host:port"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(t, c.args, c.env, c.file)
			if c.errHas == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if cfg.Outbound != c.outbound {
					t.Errorf("outbound = %q, want %q", cfg.Outbound, c.outbound)
				}
				return
			}
			if err == nil {
				t.Fatalf("started with outbound %q, want an error", cfg.Outbound)
			}
			for _, w := range c.errHas {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}
