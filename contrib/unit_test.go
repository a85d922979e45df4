// Package contrib_test checks the files shipped for packagers: the
// systemd unit keeps the settings the daemon relies on, and systemd
// itself accepts it where systemd-analyze is installed.
package contrib_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnitHasWhatTheDaemonNeeds(t *testing.T) {
	b, err := os.ReadFile("deskmail.service")
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, want := range []string{
		"Type=notify", // READY=1 / STOPPING=1 from gateway.Run
		"NotifyAccess=main",
		"WatchdogSec=30s", // WATCHDOG=1 every 15 s from the main loop
		"Restart=on-failure",
		"User=deskmail",
		"StateDirectory=deskmail",
		"ConfigurationDirectoryMode=0755",             // root-owned: the user must be able to search it
		"Environment=DESKMAIL_DATA=/var/lib/deskmail", // where StateDirectory= puts it
		"ProtectSystem=strict",
		"ProtectHome=yes",
		"PrivateTmp=yes",
		"NoNewPrivileges=yes",
		"AmbientCapabilities=CAP_NET_BIND_SERVICE", // port 25 without root
		"CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
		"UMask=0077",
	} {
		if !lines[want] {
			t.Errorf("deskmail.service lacks %q", want)
		}
	}
	sys, err := os.ReadFile("deskmail.sysusers")
	if err != nil || !strings.Contains(string(sys), "u deskmail ") {
		t.Errorf("deskmail.sysusers does not create the deskmail user: %v %q", err, sys)
	}
}

// TestSystemdAcceptsTheUnit runs `systemd-analyze verify` on the unit,
// with ExecStart pointed at an executable that exists here.
func TestSystemdAcceptsTheUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	b, err := os.ReadFile("deskmail.service")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "deskmail.service")
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/deskmail", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
