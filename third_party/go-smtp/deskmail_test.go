package smtp_test

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// The additions and the fix of deskmail's copy (see DESKMAIL.md).

func TestDeskmailGreeting(t *testing.T) {
	_, s, c, scanner := testServer(t, func(s *smtp.Server) { s.Greeting = "mx.test ESMTP deskmail ready" })
	defer s.Close()
	defer c.Close()
	scanner.Scan()
	if got := scanner.Text(); got != "220 mx.test ESMTP deskmail ready" {
		t.Fatalf("greeting %q", got)
	}
}

func TestDeskmailOnRefuseSeesSizeRefusal(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	_, s, c, scanner, _ := testServerEhlo(t, func(s *smtp.Server) {
		s.MaxMessageBytes = 100
		s.OnRefuse = func(_ *smtp.Conn, r *smtp.SMTPError) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, r.Error())
		}
	})
	defer s.Close()
	defer c.Close()
	io.WriteString(c, "MAIL FROM:<root@nsa.gov> SIZE=1000\r\n")
	scanner.Scan()
	if !strings.HasPrefix(scanner.Text(), "552 5.3.4") {
		t.Fatalf("MAIL: %q", scanner.Text())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || !strings.Contains(seen[0], "size") {
		t.Fatalf("OnRefuse saw %q", seen)
	}
}

func TestDeskmailBareLFRefusedAtOnceAndClosed(t *testing.T) {
	be, s, c, scanner, _ := testServerEhlo(t, func(s *smtp.Server) { s.RejectBareLF = true })
	defer s.Close()
	defer c.Close()
	io.WriteString(c, "AUTH PLAIN AHVzZXJuYW1lAHBhc3N3b3Jk\r\n")
	scanner.Scan()
	io.WriteString(c, "MAIL FROM:<root@nsa.gov>\r\nRCPT TO:<root@gchq.gov.uk>\r\nDATA\r\n")
	for i := 0; i < 3; i++ {
		scanner.Scan()
	}
	if !strings.HasPrefix(scanner.Text(), "354") {
		t.Fatalf("DATA: %q", scanner.Text())
	}
	// Ends with LF . LF, which must never end the data; no CRLF.CRLF
	// follows, so only the bare-LF check can answer.
	io.WriteString(c, "Subject: x\n\nHey\n.\n")
	if !scanner.Scan() {
		t.Fatal("no reply")
	}
	if got := scanner.Text(); !strings.HasPrefix(got, "550 5.5.2") {
		t.Fatalf("reply %q", got)
	}
	if scanner.Scan() {
		t.Fatalf("connection still open: %q", scanner.Text())
	}
	if len(be.messages) != 0 {
		t.Fatalf("message stored: %v", be.messages)
	}
}

func TestDeskmailSessionChoosesSuccessText(t *testing.T) {
	// The test backend's session returns nil: the default texts stay.
	_, s, c, scanner := testServerAuthenticated(t)
	defer s.Close()
	defer c.Close()
	io.WriteString(c, "MAIL FROM:<root@nsa.gov>\r\n")
	scanner.Scan()
	if !strings.HasPrefix(scanner.Text(), "250 2.0.0 Roger") {
		t.Fatalf("MAIL: %q", scanner.Text())
	}
}

// Serve after Shutdown (the listener registered too late for Shutdown to
// close it) returns at once and closes the listener.
func TestDeskmailServeAfterShutdownReturns(t *testing.T) {
	s := smtp.NewServer(nil)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	select {
	case err := <-done:
		if err != smtp.ErrServerClosed {
			t.Errorf("Serve after Shutdown: %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		l.Close()
		t.Fatal("Serve after Shutdown kept accepting")
	}
	if c, err := net.Dial("tcp", l.Addr().String()); err == nil {
		c.Close()
		t.Error("the listener still accepts connections")
	}
}
