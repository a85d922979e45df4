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

// writeCounter counts the writes on the server's side of a connection.
type writeCounter struct {
	net.Listener
	mu     sync.Mutex
	writes []string
}

type countedConn struct {
	net.Conn
	l *writeCounter
}

func (l *writeCounter) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &countedConn{Conn: c, l: l}, nil
}

func (c *countedConn) Write(p []byte) (int, error) {
	c.l.mu.Lock()
	c.l.writes = append(c.l.writes, string(p))
	c.l.mu.Unlock()
	return c.Conn.Write(p)
}

// Each reply, a multi-line EHLO reply too, is written in one write
// (deskmail patch 5), with its lines as before.
func TestDeskmailOneWritePerReply(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	wc := &writeCounter{Listener: ln}
	s := smtp.NewServer(new(backend))
	s.Domain = "localhost"
	s.MaxMessageBytes = 1000
	go s.Serve(wc)
	defer s.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "EHLO client.test\r\nQUIT\r\n")
	all, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	want := "220 localhost ESMTP Service Ready\r\n" +
		"250-Hello client.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250-CHUNKING\r\n250 SIZE 1000\r\n" +
		"221 2.0.0 Bye\r\n"
	if string(all) != want {
		t.Fatalf("replies\n%q\nwant\n%q", all, want)
	}
	wc.mu.Lock()
	defer wc.mu.Unlock()
	if len(wc.writes) != 3 {
		t.Fatalf("%d writes, want 3 (one per reply): %q", len(wc.writes), wc.writes)
	}
}

// readSizer records the largest read the server asks of a connection.
type readSizer struct {
	net.Listener
	mu  sync.Mutex
	max int
}

type sizedConn struct {
	net.Conn
	l *readSizer
}

func (l *readSizer) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sizedConn{Conn: c, l: l}, nil
}

func (c *sizedConn) Read(p []byte) (int, error) {
	c.l.mu.Lock()
	if len(p) > c.l.max {
		c.l.max = len(p)
	}
	c.l.mu.Unlock()
	return c.Conn.Read(p)
}

// The server reads up to ReadBufferSize (16 KiB) at once (deskmail patch
// 5), so a message of a few KB that the client writes at once is read in
// one system call, not in 4 KiB pieces.
func TestDeskmailReadsSixteenKiBAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rs := &readSizer{Listener: ln}
	s := smtp.NewServer(new(backend))
	s.Domain = "localhost"
	go s.Serve(rs)
	defer s.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "EHLO client.test\r\nQUIT\r\n")
	if _, err := io.ReadAll(c); err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.max < smtp.ReadBufferSize || smtp.ReadBufferSize < 16<<10 {
		t.Fatalf("largest read %d bytes (ReadBufferSize %d), want 16 KiB", rs.max, smtp.ReadBufferSize)
	}
}
