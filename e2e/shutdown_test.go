package e2e

import (
	"bufio"
	"errors"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// idleSession is a raw SMTP connection that said EHLO and then nothing.
type idleSession struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialIdle(t *testing.T, addr string) *idleSession {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	s := &idleSession{conn: conn, r: bufio.NewReader(conn)}
	_ = conn.SetDeadline(time.Now().Add(lineTimeout))
	s.expect(t, "220 ")
	if _, err := conn.Write([]byte("EHLO idle.test\r\n")); err != nil {
		t.Fatal(err)
	}
	s.expect(t, "250 ")
	_ = conn.SetDeadline(time.Time{})
	return s
}

// expect reads reply lines until one starts with prefix.
func (s *idleSession) expect(t *testing.T, prefix string) {
	t.Helper()
	for {
		l, err := s.r.ReadString('\n')
		if err != nil {
			t.Fatalf("waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(l, prefix) {
			return
		}
	}
}

// waitClosed fails the test unless the server closes the connection
// within timeout (whatever it says before closing is ignored).
func (s *idleSession) waitClosed(t *testing.T, timeout time.Duration) {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(timeout))
	buf := make([]byte, 512)
	for {
		_, err := s.r.Read(buf)
		if err == nil {
			continue
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the idle session is still open %v after SIGTERM", timeout)
		}
		return // EOF or reset: closed
	}
}

// openData starts a transaction and sends the first part of msg, leaving
// the session in the middle of DATA.
func openData(t *testing.T, addr string, msg []byte) (*smtp.Client, *smtp.DataCommand) {
	t.Helper()
	c, err := dialSMTP(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Mail("customer@client.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("support@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	// More than go-smtp's 4 KiB write buffer, so the daemon is reading
	// the body when the signal comes.
	if _, err := w.Write(msg[:len(msg)/2]); err != nil {
		t.Fatal(err)
	}
	return c, w
}

// TestGracefulShutdown sends SIGTERM while one session is in the middle of
// DATA and another sits idle: the idle one is closed, new connections are
// refused, the one in DATA gets to finish and its 250 means the message is
// stored (it is in the log after a restart), and the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	id := "<in-data-at-sigterm@client.test>"
	msg := message(id, "in flight", 20_000)
	idle := dialIdle(t, d.SMTP)
	_, w := openData(t, d.SMTP, msg)

	d.signal(syscall.SIGTERM)
	d.waitLog(0, `msg="shutting down"`)
	idle.waitClosed(t, lineTimeout)
	refused := false
	for deadline := time.Now().Add(lineTimeout); time.Now().Before(deadline); {
		c, err := net.DialTimeout("tcp", d.SMTP, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
	}
	if !refused {
		t.Errorf("the SMTP port still accepts connections during shutdown")
	}

	if _, err := w.Write(msg[len(msg)/2:]); err != nil {
		t.Fatalf("finish the body after SIGTERM: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("the session in DATA at SIGTERM was not answered 250: %v", err)
	}
	if code := d.wait(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM, want 0", code)
	}

	d = startDaemon(t, dir)
	if n := receivedByMessageID(readLog(t, dir))[id]; n != 1 {
		t.Errorf("the message answered 250 during shutdown is in the log %d times, want 1", n)
	}
	d.stop()
}

// TestShutdownCutsOffStalledSession checks the bound on shutdown: a client
// that stops sending in the middle of DATA holds the daemon for at most
// --shutdown-timeout, not until its read timeout.
func TestShutdownCutsOffStalledSession(t *testing.T) {
	d := startDaemon(t, t.TempDir(), "--shutdown-timeout", "1s", "--read-timeout", "2m")
	openData(t, d.SMTP, message("<stalled@client.test>", "stalled", 20_000))
	d.signal(syscall.SIGTERM)
	const bound = 6 * time.Second // shutdown-timeout plus a wide margin
	if code := d.waitWithin(bound); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// TestSIGTERMRightAfterReady stops the daemon the moment it says it is
// ready, as a supervisor restarting it in a loop would. "deskmail ready"
// promises that SIGTERM is handled: a clean stop, exit 0, never death by
// the signal's default action. Repeated because the window is short.
func TestSIGTERMRightAfterReady(t *testing.T) {
	for i := range 3 {
		d := startDaemon(t, t.TempDir())
		d.signal(syscall.SIGTERM)
		if code := d.wait(); code != 0 {
			t.Fatalf("start %d: exit status %d after SIGTERM right after ready, want 0 (-1: killed by the signal)", i+1, code)
		}
	}
}
