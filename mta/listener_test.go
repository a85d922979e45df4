package mta

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"net"
	"testing"
	"time"
)

func TestEndsWithQuit(t *testing.T) {
	for in, want := range map[string]bool{
		"QUIT\r\n": true, "quit\r\n": true, "RCPT TO:<a@b>\r\nQUIT\r\n": true,
		"QUIT": false, "QUIT\r\nNOOP\r\n": false, "XQUIT\r\n": false, "UIT\r\n": false, "": false,
	} {
		if got := endsWithQuit([]byte(in)); got != want {
			t.Errorf("endsWithQuit(%q) = %v", in, got)
		}
	}
}

// acceptPair is a connection from the limit listener and the client's end.
func acceptPair(t *testing.T) (*deadlineConn, net.Conn) {
	t.Helper()
	ln, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := newLimitListener(ln, 10, 10, time.Minute, func(net.Conn, string, string) {})
	t.Cleanup(func() { ll.Close() })
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c, err := ll.Accept()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*deadlineConn), client
}

// After the client's QUIT the server closes at once: no lingering read
// that waits for the client's FIN. Without QUIT it still lingers: the
// close waits for the client (here until it closes).
func TestCloseAfterQuitDoesNotLinger(t *testing.T) {
	old := lingerTime
	lingerTime = time.Hour // a linger would outlast the test
	defer func() { lingerTime = old }()

	for _, last := range []string{"QUIT\r\n", "NOOP\r\n"} {
		dc, client := acceptPair(t)
		if _, err := io.WriteString(client, "EHLO client.test\r\n"+last); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(dc)
		for range 2 {
			if _, err := br.ReadString('\n'); err != nil {
				t.Fatal(err)
			}
		}
		closed := make(chan error, 1)
		go func() { closed <- dc.Close() }()
		// The client sees our FIN either way.
		if _, err := client.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("%q: client read %v, want EOF", last, err)
		}
		if last == "QUIT\r\n" {
			select {
			case <-closed:
			case <-time.After(10 * time.Second):
				t.Fatal("the close after QUIT waits for the client")
			}
			continue
		}
		// Our FIN came from CloseWrite, the socket still open for the
		// linger's read; a close without linger sends FIN from Close,
		// which has marked the socket closed before the FIN leaves.
		if !socketOpen(t, dc) {
			t.Fatal("closed without lingering, the client's last command was no QUIT")
		}
		client.Close() // its FIN ends the linger
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("the linger outlasts the client's FIN")
		}
		if socketOpen(t, dc) {
			t.Fatal("the socket is still open after Close")
		}
	}
}

// socketOpen tells whether the server's socket of dc is still open (not
// yet closed by Close).
func socketOpen(t *testing.T, dc *deadlineConn) bool {
	t.Helper()
	rc, err := dc.Conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	err = rc.Control(func(uintptr) {})
	if err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	return err == nil
}

// crlfReader, a line at a time, answers as the byte-wise check did.
func TestCRLFReaderMatchesByteWise(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	pieces := []string{"\r\n", "\n", "\r", "abc", "\r\r\n", "x"}
	for range 20000 {
		var in bytes.Buffer
		for j := rnd.Intn(12); j >= 0; j-- {
			in.WriteString(pieces[rnd.Intn(len(pieces))])
		}
		want := len(in.Bytes())
		prev := false
		for i, c := range in.Bytes() {
			if c == '\n' && !prev {
				want = i
				break
			}
			prev = c == '\r'
		}
		r := &crlfReader{r: &chunked{b: in.Bytes(), n: 1 + rnd.Intn(5)}}
		got, err := io.Copy(io.Discard, r)
		if (want < in.Len()) != errors.Is(err, errBareLFData) || int(got) != want {
			t.Fatalf("%q: read %d (%v), want %d", in.Bytes(), got, err, want)
		}
	}
}

type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}
