package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/config"
)

// Issue 21, item 8, against the daemon: its HTTP listener cuts a POST
// whose body trickles in at http-read-timeout, and slow connections from
// one address, past http-max-connections-per-ip, do not keep /healthz
// from another address.
func TestDaemonHTTPListenerLimits(t *testing.T) {
	dir := t.TempDir()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	l := config.Register(fs)
	if err := fs.Parse([]string{"--data", filepath.Join(dir, "data"), "--smtp-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--domain", "example.test",
		"--http-read-header-timeout", "1m", "--http-read-timeout", "300ms", "--http-max-connections-per-ip", "3"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Start(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Shutdown(context.Background()) }) // after the connections close (cleanups run last first)
	addr := d.Addrs["http"]
	dial := func(from string) net.Conn {
		t.Helper()
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// A body one byte at a time: cut long before its megabyte.
	c := dial("127.0.0.1")
	fmt.Fprintf(c, "POST /v1/inbound HTTP/1.1\r\nHost: deskmail\r\nAuthorization: Bearer x\r\nContent-Length: %d\r\n\r\n", 1<<20)
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a guard only
		_, _ = io.Copy(io.Discard, c)
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
trickle:
	for ; sent < 1<<19; sent++ {
		select {
		case <-ended:
			break trickle
		case <-tick.C:
			if _, err := c.Write([]byte{'x'}); err != nil {
				<-ended
				break trickle
			}
		}
	}
	if sent >= 1<<19 {
		t.Fatal("half the slow body was read")
	}

	// Three slow connections from one address (their header never ends:
	// they hold on for the header's minute) take its share; the fourth is
	// refused, and another address is served.
	for range 3 {
		io.WriteString(dial("127.0.0.1"), "GET /healthz HTTP/1.1\r\n")
	}
	resp, err := http.ReadResponse(bufio.NewReader(dial("127.0.0.1")), nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a fourth connection from the address: %v %v, want 503", resp, err)
	}
	other := dial("127.0.0.2")
	io.WriteString(other, "GET /healthz HTTP/1.1\r\nHost: deskmail\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(other), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz from another address: %v %v", resp, err)
	}
}
