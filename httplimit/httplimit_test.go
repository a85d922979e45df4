package httplimit

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serve runs the limits on a real listener on 127.0.0.1 with /healthz
// and /upload (reads the whole body).
func serve(t *testing.T, lim Limits) string {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("POST /upload", func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, "body: "+err.Error(), http.StatusRequestTimeout)
			return
		}
		fmt.Fprintf(w, "%d bytes\n", n)
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := Server(mux, lim)
	go srv.Serve(Listener(l, lim))
	t.Cleanup(func() { srv.Close() })
	return l.Addr().String()
}

// dialFrom connects to addr from a chosen loopback address.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Issue 21, item 8: a POST that sends its body one byte at a time is cut
// at the read deadline (here 300 ms), long before its body is complete.
func TestSlowBodyCutAtTheDeadline(t *testing.T) {
	addr := serve(t, Limits{ReadHeaderTimeout: 200 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	c := dialFrom(t, "127.0.0.1", addr)
	const length = 1 << 20
	if _, err := fmt.Fprintf(c, "POST /upload HTTP/1.1\r\nHost: deskmail\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n", length); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_ = c.SetReadDeadline(time.Now().Add(time.Minute)) // a guard, should the cut never come
		_, _ = io.Copy(io.Discard, c)                      // an answer, then EOF, or a reset: the server is done with us
	}()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for sent < length {
		select {
		case <-ended:
			if sent >= length/2 {
				t.Errorf("the server read %d of %d bytes before it cut", sent, length)
			}
			return
		case <-tick.C:
			if _, err := c.Write([]byte{'x'}); err != nil {
				<-ended
				return
			}
			sent++
		}
	}
	t.Fatal("the whole slow body was read")
}

// N slow connections from one address take that address's share only:
// the next one from it is refused at once, and /healthz from another
// address answers.
func TestSlowConnectionsFromOneAddressDoNotStopOthers(t *testing.T) {
	const perIP = 3
	addr := serve(t, Limits{ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute, MaxConnsPerIP: perIP, MaxConns: 10})
	for range perIP {
		c := dialFrom(t, "127.0.0.1", addr)
		if _, err := io.WriteString(c, "POST /upload HTTP/1.1\r\nHost: deskmail\r\n"); err != nil { // and never the rest
			t.Fatal(err)
		}
	}
	over := dialFrom(t, "127.0.0.1", addr)
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("a connection over the address's cap: %v %v, want 503", resp, err)
	}
	other := dialFrom(t, "127.0.0.2", addr)
	if _, err := io.WriteString(other, "GET /healthz HTTP/1.1\r\nHost: deskmail\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(bufio.NewReader(other), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz from another address: %v %v", resp, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 100))
	if strings.TrimSpace(string(body)) != "ok" {
		t.Errorf("/healthz: %q", body)
	}
}

// A connection closed by the server gives its address's slot back: the
// next connection from the address is accepted, not refused.
func TestSlotsComeBack(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listener(raw, Limits{MaxConnsPerIP: 1})
	defer l.Close()
	accepted := make(chan net.Conn)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	for i := range 5 {
		c := dialFrom(t, "127.0.0.1", raw.Addr().String())
		select {
		case s := <-accepted:
			s.Close()
		case <-time.After(10 * time.Second): // a guard: the slot never came back
			t.Fatalf("connection %d was not accepted", i+1)
		}
		c.Close()
	}
}

// closeSpy is a connection whose Close reports its address's open count
// at that moment.
type closeSpy struct {
	net.Conn
	seen func()
}

func (c closeSpy) Close() error { c.seen(); return c.Conn.Close() }

type spyListener struct {
	net.Listener
	seen func()
}

func (l spyListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return closeSpy{Conn: c, seen: l.seen}, nil
}

// A connection's slot is free before its socket closes, so a client that
// has seen the end of its connection can reconnect at once (the daemon's
// listener test, TestDaemonHTTPListenerLimits, reconnected into a slot
// not yet given back).
func TestSlotFreeBeforeTheClose(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var p *perIP
	var atClose []int
	p = Listener(spyListener{Listener: l, seen: func() {
		p.mu.Lock()
		atClose = append(atClose, len(p.open))
		p.mu.Unlock()
	}}, Limits{MaxConnsPerIP: 1}).(*perIP)
	c := dialFrom(t, "127.0.0.1", l.Addr().String())
	s, err := p.Accept()
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if len(atClose) != 1 || atClose[0] != 0 {
		t.Fatalf("addresses with a slot taken when the socket closed: %v, want [0]", atClose)
	}
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("client read: %v, want EOF", err)
	}
}
