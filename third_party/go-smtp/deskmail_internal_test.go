package smtp

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// refDataReader is upstream's DATA reader, byte by byte, that the line-wise
// copy of deskmail patch 5 must match.
type refDataReader struct {
	r                      *bufio.Reader
	state                  int
	strict, prevCR, bareLF bool
}

func (r *refDataReader) Read(b []byte) (n int, err error) {
	if r.bareLF {
		return 0, ErrBareLF
	}
	const (
		stateBeginLine = iota
		stateDot
		stateDotCR
		stateCR
		stateData
		stateEOF
	)
	for n < len(b) && r.state != stateEOF {
		var c byte
		c, err = r.r.ReadByte()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			break
		}
		if r.strict {
			if c == '\n' && !r.prevCR {
				r.bareLF = true
				err = ErrBareLF
				break
			}
			r.prevCR = c == '\r'
		}
		switch r.state {
		case stateBeginLine:
			if c == '.' {
				r.state = stateDot
				continue
			}
			if c == '\r' {
				r.state = stateCR
				break
			}
			r.state = stateData
		case stateDot:
			if c == '\r' {
				r.state = stateDotCR
				continue
			}
			r.state = stateData
		case stateDotCR:
			if c == '\n' {
				r.state = stateEOF
				continue
			}
			r.state = stateData
		case stateCR:
			if c == '\n' {
				r.state = stateBeginLine
				break
			}
			r.state = stateData
		case stateData:
			if c == '\r' {
				r.state = stateCR
			}
		}
		b[n] = c
		n++
	}
	if err == nil && r.state == stateEOF {
		err = io.EOF
	}
	return
}

// readAll reads r with reads of the given sizes, in turn, and returns what
// it read, the error it ended with and what the stream had left.
func readAll(r io.Reader, br *bufio.Reader, sizes []int) (string, error, string) {
	var out bytes.Buffer
	var err error
	for i := 0; err == nil; i++ {
		b := make([]byte, sizes[i%len(sizes)])
		var n int
		n, err = r.Read(b)
		out.Write(b[:n])
		if i > 1<<20 {
			panic("no progress")
		}
	}
	rest, _ := io.ReadAll(br)
	return out.String(), err, string(rest)
}

// chunkReader hands out its input a few bytes at a time, so the bufio
// buffer above it holds little and the reader must read again mid-line.
type chunkReader struct {
	s    string
	size int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	if len(b) > c.size {
		b = b[:c.size]
	}
	n := copy(b, c.s)
	c.s = c.s[n:]
	return n, nil
}

func TestDeskmailDataReaderMatchesUpstream(t *testing.T) {
	rnd := rand.New(rand.NewSource(1))
	pieces := []string{"\r\n", "\n", "\r", ".", "..", "\r\n.\r\n", "\r\n..\r\n", "a", "hello world", strings.Repeat("x", 100), ".\r\n", "\r\n.", " "}
	for i := 0; i < 20000; i++ {
		var in strings.Builder
		for j := rnd.Intn(20); j >= 0; j-- {
			in.WriteString(pieces[rnd.Intn(len(pieces))])
		}
		if rnd.Intn(2) == 0 {
			in.WriteString("\r\n.\r\nQUIT\r\n")
		}
		src := in.String()
		strict := rnd.Intn(2) == 0
		chunk := 1 + rnd.Intn(40)
		bufSize := 16 + rnd.Intn(64)
		sizes := []int{1 + rnd.Intn(50), 1 + rnd.Intn(5), 1 + rnd.Intn(200)}

		br1 := bufio.NewReaderSize(&chunkReader{src, chunk}, bufSize)
		got, gotErr, gotRest := readAll(&dataReader{r: br1, strict: strict}, br1, sizes)
		br2 := bufio.NewReaderSize(&chunkReader{src, chunk}, bufSize)
		want, wantErr, wantRest := readAll(&refDataReader{r: br2, strict: strict}, br2, sizes)
		if got != want || gotErr != wantErr || gotRest != wantRest {
			t.Fatalf("input %q (strict %v): got %q, %v, rest %q; upstream %q, %v, rest %q",
				src, strict, got, gotErr, gotRest, want, wantErr, wantRest)
		}
	}
}

// refLineLimit is upstream's lineLimitReader check, byte by byte.
func refLineLimit(cur, limit int, b []byte) (int, bool) {
	for _, chr := range b {
		if chr == '\n' {
			cur = 0
		}
		cur++
		if cur > limit {
			return cur, false
		}
	}
	return cur, true
}

func TestDeskmailLineLimitMatchesUpstream(t *testing.T) {
	rnd := rand.New(rand.NewSource(2))
	for i := 0; i < 20000; i++ {
		limit := 1 + rnd.Intn(20)
		b := make([]byte, rnd.Intn(60))
		for j := range b {
			if rnd.Intn(8) == 0 {
				b[j] = '\n'
			} else {
				b[j] = 'x'
			}
		}
		cur := rnd.Intn(limit + 1)
		r := &lineLimitReader{R: bytes.NewReader(b), LineLimit: limit, curLineLength: cur}
		n, err := r.Read(make([]byte, len(b)+1))
		wantCur, ok := refLineLimit(cur, limit, b)
		if len(b) == 0 {
			continue // io.EOF from the source: nothing counted
		}
		if ok != (err == nil) || (ok && (n != len(b) || r.curLineLength != wantCur)) || (!ok && n != 0) {
			t.Fatalf("limit %d, start %d, %q: got n %d, err %v, cur %d; upstream ok %v, cur %d",
				limit, cur, b, n, err, r.curLineLength, ok, wantCur)
		}
		if !ok {
			if _, err := r.Read(make([]byte, 1)); err != ErrTooLongLine {
				t.Fatalf("read after the error: %v", err)
			}
		}
	}
}

// goid is the calling goroutine's number, from the first line of its stack.
func goid() string {
	b := make([]byte, 64)
	return strings.Fields(string(b[:runtime.Stack(b, false)]))[1]
}

// One handler goroutine serves connection after connection (deskmail patch
// 7), and ends with the server.
func TestDeskmailHandlerServesConnectionAfterConnection(t *testing.T) {
	var mu sync.Mutex
	ids := map[string]int{}
	s := NewServer(BackendFunc(func(c *Conn) (Session, error) {
		mu.Lock()
		ids[goid()]++
		mu.Unlock()
		return nil, errors.New("no session here")
	}))
	s.Domain = "localhost"
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	const n = 20
	for i := 0; i < n; i++ {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(c, "HELO client.test\r\nQUIT\r\n"); err != nil {
			t.Fatal(err)
		}
		if b, err := io.ReadAll(c); err != nil || !bytes.Contains(b, []byte("\r\n221 ")) {
			t.Fatalf("connection %d: %q %v", i, b, err)
		}
		c.Close()
		// The server closed the connection; its handler is about to
		// wait for the next one: let it get there.
		for deadline := time.Now().Add(10 * time.Second); s.idleHandlers.Load() != 1; runtime.Gosched() {
			if time.Now().After(deadline) {
				t.Fatalf("after connection %d, %d handlers wait for the next one, want 1", i, s.idleHandlers.Load())
			}
		}
	}
	mu.Lock()
	if len(ids) != 1 {
		t.Errorf("%d connections served by %d goroutines, want 1", n, len(ids))
	}
	mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-served
	s.handlers.Wait() // the waiting handler ends with the server
	if got := s.idleHandlers.Load(); got != 0 {
		t.Errorf("%d handlers still wait after Close", got)
	}
}

// TestDeskmailCommandAndPathWithoutAllocations: a command and a plain
// path are read as pieces of the command line (deskmail patch 8); the
// STARTTLS test upper-cased every line and the mailbox was built a byte
// at a time (five allocations for MAIL and RCPT of a short address).
func TestDeskmailCommandAndPathWithoutAllocations(t *testing.T) {
	var cmd, arg, path string
	n := testing.AllocsPerRun(100, func() {
		var err error
		if cmd, arg, err = parseCmd("MAIL FROM:<customer@example.org>\r\n"); err != nil {
			t.Fatal(err)
		}
		p := parser{s: arg[len("FROM:"):]}
		if path, err = p.parseReversePath(); err != nil {
			t.Fatal(err)
		}
	})
	if cmd != "MAIL" || path != "customer@example.org" {
		t.Fatalf("got %q %q", cmd, path)
	}
	if n != 0 {
		t.Errorf("%v allocations, want none", n)
	}
	p := parser{s: `<"a b"@example.org>`}
	if path, err := p.parseReversePath(); err != nil || path != `a b@example.org` {
		t.Errorf("quoted local part: %q, %v", path, err)
	}
}
