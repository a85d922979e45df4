package e2e

import (
	"net"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServeNotifiesSystemd runs the built binary as a Type=notify unit
// with WatchdogSec would: NOTIFY_SOCKET names a unix datagram socket the
// test reads, WATCHDOG_USEC asks for keep-alives. The daemon must say
// READY=1 with its listeners, keep the watchdog fed, and say STOPPING=1
// on SIGTERM before it exits cleanly.
func TestServeNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(t.TempDir(), "notify")
	sd, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	// startDaemon passes the test's environment on (DESKMAIL_* aside).
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "400000") // a keep-alive every 200 ms
	d := startDaemon(t, dir)

	read := func() string {
		t.Helper()
		_ = sd.SetReadDeadline(time.Now().Add(lineTimeout))
		b := make([]byte, 4096)
		n, err := sd.Read(b)
		if err != nil {
			t.Fatalf("no notification from the daemon: %v", err)
		}
		return string(b[:n])
	}
	if got := read(); !strings.HasPrefix(got, "READY=1\n") || !strings.Contains(got, "smtp "+d.SMTP) || !strings.Contains(got, "http "+d.HTTP) {
		t.Fatalf("first notification %q, want READY=1 naming smtp %s and http %s", got, d.SMTP, d.HTTP)
	}
	if got := read(); got != "WATCHDOG=1\n" {
		t.Fatalf("second notification %q, want a watchdog keep-alive", got)
	}
	d.signal(syscall.SIGTERM)
	for {
		got := read()
		if got == "WATCHDOG=1\n" {
			continue // one may have been on its way
		}
		if got != "STOPPING=1\nSTATUS=stopping\n" {
			t.Errorf("on SIGTERM: %q", got)
		}
		break
	}
	if code := d.wait(); code != 0 {
		t.Errorf("exit status %d after SIGTERM", code)
	}
}
