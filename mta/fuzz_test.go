package mta

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
)

// pipeListener hands out the server ends of net.Pipe connections.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *pipeListener) Addr() net.Addr { return &net.UnixAddr{Name: "pipe", Net: "pipe"} }

func (l *pipeListener) dial() net.Conn {
	client, server := net.Pipe()
	l.conns <- server
	return client
}

var queuedAs = regexp.MustCompile(`250 2\.0\.0 OK: (?:queued as|already have it as) ([0-9a-f]+)`)

// FuzzSession replays arbitrary client input after EHLO, MAIL and RCPT over
// net.Pipe. The server must never panic (go-smtp turns a panic into "421
// Internal server error", which the test catches) and every message it
// acknowledged must be in the store.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"DATA\r\nSubject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n",
		"DATA\r\n..dot\r\n.\r\n",
		"RCPT TO:<b@example.test>\r\nRCPT TO:<x@other.test>\r\nDATA\r\n\r\n.\r\n",
		"RSET\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster@example.test>\r\nDATA\r\nbounce\r\n.\r\n",
		"BDAT 5 LAST\r\nhello",
		"BDAT 3\r\nabcBDAT 0 LAST\r\n",
		"MAIL FROM:<a@b> SIZE=99999999999\r\n",
		"MAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8\r\n",
		"STARTTLS\r\nNOOP\r\nHELP\r\nVRFY x\r\nEXPN y\r\nAUTH PLAIN AAAA\r\n",
		"DATA\r\n" + strings.Repeat("X", 5000) + "\r\n.\r\n",
		"\x00\xff\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	db, err := store.Open(f.TempDir(), store.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer db.Close()
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test"}
	srv := New(Config{Domains: []string{"example.test"}, MaxMessageBytes: 64 << 10, MaxLineBytes: 2000,
		ReadTimeout: 2 * time.Second}, recv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln := newPipeListener()
	go srv.ServeSMTP(ln)
	defer srv.Shutdown(context.Background())

	f.Fuzz(func(t *testing.T, input []byte) {
		c := ln.dial()
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		var out bytes.Buffer
		readDone := make(chan struct{})
		go func() {
			io.Copy(&out, bufio.NewReader(c))
			close(readDone)
		}()
		script := "EHLO fuzz.test\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<h@example.test>\r\n"
		io.WriteString(c, script)
		c.Write(input)
		io.WriteString(c, "\r\n.\r\nQUIT\r\n")
		c.Close()
		<-readDone
		if bytes.Contains(out.Bytes(), []byte("Internal server error")) {
			t.Fatalf("server panicked on %q: %s", input, out.Bytes())
		}
		for _, m := range queuedAs.FindAllSubmatch(out.Bytes(), -1) {
			if _, err := inbound.Load(context.Background(), db, string(m[1])); err != nil {
				t.Fatalf("acknowledged %s but not stored: %v", m[1], err)
			}
		}
	})
}
