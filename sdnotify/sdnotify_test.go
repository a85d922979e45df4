package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// listen opens a unix datagram socket as systemd would and points
// NOTIFY_SOCKET at it.
func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	t.Setenv("NOTIFY_SOCKET", name)
	return conn
}

func read(t *testing.T, conn *net.UnixConn) string {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b := make([]byte, 4096)
	n, err := conn.Read(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:n])
}

func TestNotifySendsOneDatagram(t *testing.T) {
	for name, path := range map[string]string{
		"file":     filepath.Join(t.TempDir(), "notify"),
		"abstract": "@deskmail-sdnotify-test-" + strconv.Itoa(os.Getpid()),
	} {
		t.Run(name, func(t *testing.T) {
			conn := listen(t, path)
			n := FromEnv()
			if !n.Enabled() {
				t.Fatal("not enabled with NOTIFY_SOCKET set")
			}
			if err := n.Notify(Ready, Status("listening")); err != nil {
				t.Fatal(err)
			}
			if got := read(t, conn); got != "READY=1\nSTATUS=listening\n" {
				t.Errorf("datagram %q", got)
			}
		})
	}
}

func TestWithoutSocketNothingHappens(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n.Enabled() || n.Notify(Ready) != nil {
		t.Errorf("a notifier without NOTIFY_SOCKET acted")
	}
}

func TestGoneManagerIsAnError(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "nobody"))
	if err := FromEnv().Notify(Ready); err == nil {
		t.Error("no error for a socket nobody listens on")
	}
}

func TestWatchdogInterval(t *testing.T) {
	pid := strconv.Itoa(os.Getpid())
	cases := []struct {
		usec, pid string
		every     time.Duration
		ok        bool
	}{
		{"", "", 0, false},
		{"abc", "", 0, false},
		{"0", "", 0, false},
		{"30000000", "", 15 * time.Second, true},
		{"30000000", pid, 15 * time.Second, true},
		{"30000000", "1", 0, false}, // meant for another process
	}
	for _, c := range cases {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		if every, ok := WatchdogInterval(); every != c.every || ok != c.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v, want %v %v", c.usec, c.pid, every, ok, c.every, c.ok)
		}
	}
}
