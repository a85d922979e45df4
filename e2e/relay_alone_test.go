package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestRelayGivenAloneSends starts the built binary with only --relay (as
// a new operator would) and checks that email goes out through it, and
// that the start does not claim outbound email is captured.
func TestRelayGivenAloneSends(t *testing.T) {
	dir := t.TempDir()
	sink := newSMTPSink(t)
	seed(t, dir, time.Second, nil).Close()
	d := startDaemon(t, dir, "--relay", sink.addr, "--relay-insecure")
	api(t, d, "POST", "/v1/events", `{"id":"ev-1","type":"password.reset_requested","person":"agent","link":"https://app.test/reset?t=1"}`)
	if got := sink.wait(t, 1); got[0].to != "agent@example.test" {
		t.Errorf("the relay got an email to %s", got[0].to)
	}
	d.stop()
	log := strings.Join(d.out.all(), "\n")
	if strings.Contains(log, "CAPTURED") || !strings.Contains(log, "mode=relay") {
		t.Errorf("the start does not say outbound email goes through the relay:\n%s", log)
	}
}

// TestRelayCombinationRefused: settings that would leave the relay unused
// stop the start with a message naming both settings.
func TestRelayCombinationRefused(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  []string
		want []string
	}{
		{"capture with a relay", []string{"--outbound", "capture", "--relay", "127.0.0.1:2500"}, nil,
			[]string{"--outbound capture", "--relay", "contradict"}},
		{"relay mode without a relay", nil, []string{"DESKMAIL_OUTBOUND=relay"},
			[]string{"--outbound relay", "DESKMAIL_OUTBOUND", "needs --relay"}},
		{"a relay user without a relay", []string{"--relay-username", "deskmail"}, nil,
			[]string{"--relay-username", "--relay is not set"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, nil, tc.env, append(baseServeArgs(t.TempDir()), tc.args...)...)
			if r.Code == 0 {
				t.Fatal("deskmail serve started")
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("stderr does not name %q:\n%s", w, r.Stderr)
				}
			}
		})
	}
}
