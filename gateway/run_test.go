package gateway

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/config"
)

// TestRunTellsSystemd runs the daemon as `deskmail serve` does under a
// Type=notify unit with WatchdogSec: a unix datagram socket stands in for
// systemd's NOTIFY_SOCKET. It must say READY=1 only once its listeners
// answer, send WATCHDOG=1 from its main loop as the clock passes half the
// watchdog period, and say STOPPING=1 when told to stop.
func TestRunTellsSystemd(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify")
	sd, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer sd.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "20000000") // WatchdogSec=20s: a keep-alive every 10 s
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse([]string{"--data", filepath.Join(dir, "data"), "--smtp-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--domain", "example.test"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC))
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{Clock: clk}) }()

	read := func() string {
		t.Helper()
		_ = sd.SetReadDeadline(time.Now().Add(20 * time.Second))
		b := make([]byte, 4096)
		n, err := sd.Read(b)
		if err != nil {
			t.Fatalf("no notification: %v", err)
		}
		return string(b[:n])
	}
	ready := read()
	if !strings.HasPrefix(ready, "READY=1\nSTATUS=ready: ") || !strings.Contains(ready, "smtp 127.0.0.1:") {
		t.Fatalf("first notification %q, want READY=1 with the listeners", ready)
	}
	// READY=1 means the listeners answer: the HTTP address in STATUS serves.
	httpAddr := strings.TrimSuffix(strings.Fields(ready[strings.Index(ready, "http "):])[1], ",")
	resp, err := http.Get("http://" + httpAddr + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after READY=1, /readyz: %v %v", resp, err)
	}
	resp.Body.Close()

	waiters := clk.Waiters()
	for i := 0; i < 2; i++ {
		clk.Advance(10 * time.Second)
		if got := read(); got != "WATCHDOG=1\n" {
			t.Fatalf("keep-alive %d: %q", i, got)
		}
		// The loop arms its next timer after sending: advance only once
		// it waits again, or the advance lands before the timer exists.
		for deadline := time.Now().Add(10 * time.Second); clk.Waiters() < waiters; {
			if time.Now().After(deadline) {
				t.Fatalf("the main loop did not wait again after keep-alive %d", i)
			}
			runtime.Gosched()
		}
	}
	stop()
	if got := read(); got != "STOPPING=1\nSTATUS=stopping\n" {
		t.Errorf("on stop: %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
