// Package sdnotify speaks systemd's service notification protocol
// (sd_notify(3)), the few lines of it deskmail needs: a unit with
// Type=notify learns that the daemon is ready (READY=1) once its
// listeners are up, that it is stopping (STOPPING=1), and, with
// WatchdogSec=, that its main loop is alive (WATCHDOG=1). Outside systemd
// (no NOTIFY_SOCKET) every call does nothing, so the daemon runs the same
// from a terminal.
//
// A message is one datagram of newline-separated KEY=VALUE assignments
// sent to the unix socket named by NOTIFY_SOCKET; a name starting with
// "@" is in Linux's abstract namespace (Go's net package maps the "@").
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// The states deskmail reports.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// Notifier sends to one notification socket; the zero value (no socket)
// sends nothing.
type Notifier struct {
	socket string
}

// FromEnv returns the Notifier of the NOTIFY_SOCKET systemd set, if any.
func FromEnv() Notifier { return Notifier{socket: os.Getenv("NOTIFY_SOCKET")} }

// Enabled reports whether there is a service manager to tell.
func (n Notifier) Enabled() bool { return n.socket != "" }

// Notify sends the assignments as one datagram. A manager that is gone
// is an error the caller logs; the daemon keeps running.
func (n Notifier) Notify(state ...string) error {
	if n.socket == "" {
		return nil
	}
	msg := ""
	for _, s := range state {
		msg += s + "\n"
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.socket, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(msg)); err != nil {
		return fmt.Errorf("sd_notify: %w", err)
	}
	return nil
}

// Status is the free-form STATUS= line `systemctl status` shows.
func Status(s string) string { return "STATUS=" + s }

// WatchdogInterval is how often to send WATCHDOG=1: half the WatchdogSec
// systemd passed in WATCHDOG_USEC, as sd_watchdog_enabled(3) advises, and
// only when WATCHDOG_PID (if set) is this process. ok is false when the
// watchdog is off.
func WatchdogInterval() (every time.Duration, ok bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond / 2, true
}
