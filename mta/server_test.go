package mta

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

type harness struct {
	addr string
	db   *store.DB
	srv  *Server
	logs *logBuffer
}

// logBuffer keeps the server's log lines for tests to read.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, cfg Config, lmtp bool) *harness {
	t.Helper()
	return startWith(t, cfg, lmtp, nil)
}

// startWith is start with the receiver wrapped by wrap (nil: as is).
func startWith(t *testing.T, cfg Config, lmtp bool, wrap func(Receiver) Receiver) *harness {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recv := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test",
		Limits: inbound.Limits{MaxMessageBytes: cfg.MaxMessageBytes}}
	if cfg.Domains == nil {
		cfg.Domains = []string{"example.test"}
	}
	logs := &logBuffer{}
	var r Receiver = recv
	if wrap != nil {
		r = wrap(recv)
	}
	srv := New(cfg, r, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		if lmtp {
			done <- srv.ServeLMTP(ln)
		} else {
			done <- srv.ServeSMTP(ln)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-done
		db.Close()
	})
	return &harness{addr: ln.Addr().String(), db: db, srv: srv, logs: logs}
}

func dial(t *testing.T, addr string) *smtp.Client {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	return c
}

func message(id string, bodyBytes int) string {
	body := strings.Repeat(strings.Repeat("x", 78)+"\r\n", bodyBytes/80+1)
	return fmt.Sprintf("From: Ann <ann@client.test>\r\nTo: help@example.test\r\nSubject: Help %s\r\nMessage-ID: <%s@client.test>\r\n\r\n%s",
		id, id, body)
}

func send(c *smtp.Client, from string, rcpts []string, msg string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, msg); err != nil {
		return err
	}
	return w.Close()
}

func smtpCode(err error) int {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code
	}
	return 0
}

func entries(t *testing.T, db *store.DB, f journal.Filter) []journal.Entry {
	t.Helper()
	es, err := journal.Query(context.Background(), db, f)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestAcceptStoresAndJournals(t *testing.T) {
	h := start(t, Config{}, false)
	c := dial(t, h.addr)
	if err := send(c, "ann@client.test", []string{"help@example.test"}, message("a1", 100)); err != nil {
		t.Fatalf("send: %v", err)
	}
	es := entries(t, h.db, journal.Filter{Status: journal.StatusReceived})
	if len(es) != 1 {
		t.Fatalf("journal has %d received entries, want 1", len(es))
	}
	e := es[0]
	if e.MessageID != "<a1@client.test>" || e.Subject != "Help a1" || e.From != "Ann <ann@client.test>" ||
		e.EnvelopeFrom != "ann@client.test" || e.RemoteIP != "127.0.0.1" || e.Size == 0 {
		t.Errorf("journal entry = %+v", e)
	}
	m, err := inbound.Load(context.Background(), h.db, e.StoredID)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := inbound.OpenRaw(context.Background(), h.db, m)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(rc)
	if !strings.HasPrefix(string(raw), "Received: from client.test ([127.0.0.1])") ||
		!strings.HasSuffix(string(raw), message("a1", 100)) {
		t.Errorf("stored raw message = %q", raw)
	}
}

func TestRelayDenied(t *testing.T) {
	h := start(t, Config{}, false)
	c := dial(t, h.addr)
	if err := c.Mail("x@spam.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, rcpt := range []string{"victim@elsewhere.test", "help@example.test.evil.test", "help@sub.example.test", "@example.test"} {
		err := c.Rcpt(rcpt, nil)
		var se *smtp.SMTPError
		if !errors.As(err, &se) || se.Code/100 != 5 {
			t.Errorf("RCPT %s: %v, want a 5xx refusal", rcpt, err)
		}
	}
	err := c.Rcpt("victim@elsewhere.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 1}) {
		t.Errorf("relay refusal = %v, want 550 5.7.1", err)
	}
	// Our own domain is accepted in any case, and the bare "postmaster"
	// (RFC 5321 section 4.5.1).
	for _, rcpt := range []string{"Help@EXAMPLE.test", "help@example.test.", "postmaster"} {
		if err := c.Rcpt(rcpt, nil); err != nil {
			t.Errorf("RCPT %s: %v", rcpt, err)
		}
	}
	es := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	if len(es) < 1 || !strings.Contains(es[0].Reason, "relaying denied") || es[0].EnvelopeFrom != "x@spam.test" {
		t.Errorf("rejections journaled = %+v", es)
	}
}

func TestSizeLimit(t *testing.T) {
	h := start(t, Config{MaxMessageBytes: 10000}, false)
	c := dial(t, h.addr)
	if ok, param := c.Extension("SIZE"); !ok || param != "10000" {
		t.Errorf("EHLO SIZE = %v %q, want 10000", ok, param)
	}
	if err := c.Mail("ann@client.test", &smtp.MailOptions{Size: 20000}); smtpCode(err) != 552 {
		t.Errorf("MAIL SIZE=20000: %v, want 552", err)
	}
	c.Reset()
	err := send(c, "ann@client.test", []string{"help@example.test"}, message("big", 20000))
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 552 || se.EnhancedCode != (smtp.EnhancedCode{5, 3, 4}) {
		t.Fatalf("oversized DATA: %v, want 552 5.3.4", err)
	}
	// The session survives and the next message goes through.
	if err := send(c, "ann@client.test", []string{"help@example.test"}, message("small", 100)); err != nil {
		t.Fatalf("message after refusal: %v", err)
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 1 {
		t.Errorf("%d messages stored, want 1", n)
	}
	rej := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	// Both refusals are journaled: MAIL SIZE= (go-smtp refuses it before
	// the session sees it, and tells us) and the over-size DATA.
	if len(rej) != 2 || !strings.Contains(rej[0].Reason, "SIZE= over the limit of 10000 bytes") ||
		rej[1].Reason != "message over the size limit" {
		t.Errorf("rejections = %+v, want the SIZE and the DATA refusals", rej)
	}
}

func TestHeaderCap(t *testing.T) {
	h := start(t, Config{}, false)
	h.srv.recv.(*inbound.Receiver).Limits.MaxHeaderBytes = 2000
	c := dial(t, h.addr)
	msg := strings.Repeat("X-Filler: "+strings.Repeat("y", 60)+"\r\n", 50) + "\r\nbody\r\n"
	err := send(c, "ann@client.test", []string{"help@example.test"}, msg)
	if smtpCode(err) != 552 {
		t.Fatalf("huge header: %v, want 552", err)
	}
}

func TestRecipientLimit(t *testing.T) {
	h := start(t, Config{MaxRecipients: 3}, false)
	c := dial(t, h.addr)
	if err := c.Mail("ann@client.test", nil); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := c.Rcpt(fmt.Sprintf("r%d@example.test", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rcpt("r1@example.test", nil); err != nil {
		t.Errorf("a repeated recipient is not a new one: %v", err)
	}
	err := c.Rcpt("r9@example.test", nil)
	var se *smtp.SMTPError
	if !errors.As(err, &se) || se.Code != 452 {
		t.Errorf("4th recipient: %v, want 452", err)
	}
}

func TestDefaultLimitsAreSet(t *testing.T) {
	c := Config{}.withDefaults()
	if c.MaxRecipients != 100 || c.MaxMessageBytes <= 0 || c.MaxLineBytes <= 0 || c.ReadTimeout <= 0 ||
		c.WriteTimeout <= 0 || c.SessionTimeout <= 0 || c.MaxConns <= 0 || c.MaxConnsPerIP <= 0 {
		t.Errorf("a limit is left unlimited: %+v", c)
	}
}

// rawConn is a plain TCP client for the cases go-smtp's client cannot play
// (idle, dripping, endless lines).
func rawConn(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, rr := rawConnGreeting(t, addr)
	return nc, rr.Reader
}

// readUntilClosed returns every line the server sends until it closes.
func readUntilClosed(br *bufio.Reader) []string {
	var lines []string
	for {
		l, err := br.ReadString('\n')
		if l != "" {
			lines = append(lines, strings.TrimRight(l, "\r\n"))
		}
		if err != nil {
			if err != io.EOF {
				lines = append(lines, "ERR "+err.Error())
			}
			return lines
		}
	}
}

func TestIdleTimeout(t *testing.T) {
	h := start(t, Config{ReadTimeout: 200 * time.Millisecond}, false)
	_, br := rawConn(t, h.addr)
	lines := readUntilClosed(br) // we say nothing
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "421 4.4.2") {
		t.Errorf("idle client got %q, want a 421 4.4.2 and close", lines)
	}
}

func TestDrippingClientCutOffBySessionDeadline(t *testing.T) {
	h := start(t, Config{ReadTimeout: 2 * time.Second, SessionTimeout: 300 * time.Millisecond}, false)
	nc, br := rawConn(t, h.addr)
	// One NOOP every 50ms keeps each read well within the read timeout;
	// only the session deadline can end this.
	stop := make(chan struct{})
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := io.WriteString(nc, "NOOP\r\n"); err != nil {
					return
				}
			}
		}
	}()
	defer close(stop)
	start := time.Now()
	lines := readUntilClosed(br)
	if time.Since(start) > 5*time.Second {
		t.Fatalf("session ran for %v", time.Since(start))
	}
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "421") {
		t.Errorf("dripping client got %q, want a 421 and close", lines[max(0, len(lines)-3):])
	}
}

func TestEndlessLine(t *testing.T) {
	h := start(t, Config{MaxLineBytes: 1000}, false)
	nc, br := rawConn(t, h.addr)
	go func() {
		chunk := strings.Repeat("A", 4096)
		for i := 0; i < 1000; i++ { // 4 MB without a newline, unless cut off first
			if _, err := io.WriteString(nc, chunk); err != nil {
				return
			}
		}
	}()
	lines := readUntilClosed(br)
	if len(lines) == 0 || !strings.HasPrefix(lines[0], "500 5.4.0") {
		t.Errorf("endless line got %q, want 500 5.4.0 and close", lines)
	}
}

func TestConnectionLimits(t *testing.T) {
	h := start(t, Config{MaxConnsPerIP: 2}, false)
	dial(t, h.addr)
	dial(t, h.addr)
	c, err := smtp.Dial(h.addr)
	if err == nil {
		err = c.Hello("client.test")
	}
	if smtpCode(err) != 421 {
		t.Fatalf("third connection from one IP: %v, want 421", err)
	}
	es := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	if len(es) != 1 || !strings.Contains(es[0].Reason, "too many connections") {
		t.Errorf("journal = %+v", es)
	}
}

func TestGlobalConnectionLimit(t *testing.T) {
	h := start(t, Config{MaxConns: 1}, false)
	dial(t, h.addr)
	c, err := smtp.Dial(h.addr)
	if err == nil {
		err = c.Hello("client.test")
	}
	if smtpCode(err) != 421 {
		t.Fatalf("second connection: %v, want 421", err)
	}
}

func TestStartTLS(t *testing.T) {
	tc, err := SelfSignedTLSConfig("mx.test")
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{TLS: tc}, false)
	c := dial(t, h.addr)
	if ok, _ := c.Extension("STARTTLS"); !ok {
		t.Fatal("STARTTLS not offered")
	}
	for _, ext := range []string{"8BITMIME", "SMTPUTF8", "PIPELINING", "ENHANCEDSTATUSCODES"} {
		if ok, _ := c.Extension(ext); !ok {
			t.Errorf("%s not offered", ext)
		}
	}
	tc2, err := smtp.DialStartTLS(h.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("STARTTLS: %v", err)
	}
	defer tc2.Close()
	if err := send(tc2, "ann@client.test", []string{"help@example.test"}, message("tls", 10)); err != nil {
		t.Fatalf("send over TLS: %v", err)
	}
	if st, ok := tc2.TLSConnectionState(); !ok || !st.HandshakeComplete {
		t.Fatal("no TLS after STARTTLS")
	}
	es := entries(t, h.db, journal.Filter{Status: journal.StatusReceived})
	if len(es) != 1 || es[0].Proto != "ESMTPS" {
		t.Errorf("journal = %+v, want one ESMTPS message", es)
	}
}

func TestNoStartTLSWithoutCertificate(t *testing.T) {
	h := start(t, Config{}, false)
	c := dial(t, h.addr)
	if ok, _ := c.Extension("STARTTLS"); ok {
		t.Error("STARTTLS offered without a certificate")
	}
}

func TestSMTPUTF8(t *testing.T) {
	h := start(t, Config{Domains: []string{"exämple.test"}}, false)
	c := dial(t, h.addr)
	if err := c.Mail("jörg@client.test", &smtp.MailOptions{UTF8: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt("hélp@EXÄMPLE.test", nil); err != nil {
		t.Fatalf("UTF-8 recipient of an IDN domain: %v", err)
	}
	if err := c.Rcpt("help@xn--exmple-cua.test", nil); err != nil {
		t.Fatalf("the same domain as punycode: %v", err)
	}
}

func TestLMTPPerRecipientReplies(t *testing.T) {
	h := start(t, Config{}, true)
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClientLMTP(nc)
	defer c.Close()
	if err := c.Hello("mta.test"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("ann@client.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"a@example.test", "b@example.test"} {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Rcpt("c@other.test", nil); smtpCode(err) != 550 {
		t.Errorf("LMTP relay: %v, want 550", err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, message("lmtp", 10))
	resps, err := w.CloseWithLMTPResponse()
	if err != nil {
		t.Fatalf("LMTP data: %v", err)
	}
	var got []string
	for _, r := range []string{"a@example.test", "b@example.test"} {
		if resp, ok := resps[r]; ok {
			got = append(got, fmt.Sprintf("%s %d", r, 250))
			_ = resp
		}
	}
	if strings.Join(got, ",") != "a@example.test 250,b@example.test 250" {
		t.Errorf("per-recipient replies = %q", got)
	}
	es := entries(t, h.db, journal.Filter{Status: journal.StatusReceived})
	if len(es) != 1 || es[0].Proto != "LMTP" || len(es[0].EnvelopeTo) != 2 {
		t.Errorf("journal = %+v", es)
	}
}

func TestRetryAfterLostReplyIsNotDuplicated(t *testing.T) {
	h := start(t, Config{}, false)
	c := dial(t, h.addr)
	msg := message("retry", 500)
	for i := 0; i < 2; i++ {
		if err := send(c, "ann@client.test", []string{"help@example.test"}, msg); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 1 {
		t.Errorf("%d stored, want 1", n)
	}
	// The same message to another recipient (a sender splitting a
	// transaction) is a different delivery and is kept.
	if err := send(c, "ann@client.test", []string{"other@example.test"}, msg); err != nil {
		t.Fatal(err)
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 2 {
		t.Errorf("%d stored, want 2", n)
	}
}

func TestShutdownLetsTransactionFinishAndClosesIdle(t *testing.T) {
	h := start(t, Config{}, false)
	idle := dial(t, h.addr)
	busy := dial(t, h.addr)
	if err := busy.Mail("ann@client.test", nil); err != nil {
		t.Fatal(err)
	}
	if err := busy.Rcpt("help@example.test", nil); err != nil {
		t.Fatal(err)
	}
	w, err := busy.Data()
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, "Subject: half\r\n\r\nfirst half\r\n")
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- h.srv.Shutdown(ctx)
	}()
	// The idle session is closed by the drain.
	if err := idle.Noop(); err == nil {
		// It may take one drain tick; a second command must fail.
		deadline := time.Now().Add(5 * time.Second)
		for err == nil && time.Now().Before(deadline) {
			err = idle.Noop()
		}
		if err == nil {
			t.Fatal("idle session still open during shutdown")
		}
	}
	io.WriteString(w, "second half\r\n")
	if err := w.Close(); err != nil {
		t.Fatalf("transaction in flight at shutdown: %v", err)
	}
	if err := <-shut; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 1 {
		t.Errorf("%d stored, want 1", n)
	}
}

func TestRefusalFloodIsCutOffAndJournaledOnce(t *testing.T) {
	h := start(t, Config{}, false)
	c := dial(t, h.addr)
	if err := c.Mail("x@spam.test", nil); err != nil {
		t.Fatal(err)
	}
	var last error
	n := 0
	for ; n < 100; n++ {
		last = c.Rcpt(fmt.Sprintf("v%d@elsewhere.test", n), nil)
		if smtpCode(last) == 421 {
			break
		}
	}
	if smtpCode(last) != 421 || n+1 != hardErrorLimit {
		t.Fatalf("refusal %d: %v, want 421 at the %dth", n+1, last, hardErrorLimit)
	}
	if err := c.Noop(); err == nil {
		t.Error("session still open after too many errors")
	}
	if got := len(entries(t, h.db, journal.Filter{Status: journal.StatusRejected})); got != journalLimit {
		t.Errorf("%d refusals journaled, want %d", got, journalLimit)
	}
}

// blockingReceiver is the real receiver, but its Receive waits for its
// context to end: a store that does not answer.
type blockingReceiver struct {
	*inbound.Receiver
	entered chan struct{}
	ended   chan error
}

func (b *blockingReceiver) Receive(ctx context.Context, env inbound.Envelope, data io.Reader) (inbound.Receipt, error) {
	_, _ = io.Copy(io.Discard, data)
	close(b.entered)
	<-ctx.Done()
	b.ended <- ctx.Err()
	return inbound.Receipt{}, ctx.Err()
}

// TestShutdownCancelsTheTransactionsItCutsOff: a transaction still in
// Receive when the shutdown's grace ends has its context cancelled, so
// it returns instead of holding the daemon's exit.
func TestShutdownCancelsTheTransactionsItCutsOff(t *testing.T) {
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recv := &blockingReceiver{Receiver: &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: "mx.test"},
		entered: make(chan struct{}), ended: make(chan error, 1)}
	srv := New(Config{Domains: []string{"example.test"}}, recv, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.ServeSMTP(ln) }()
	c := dial(t, ln.Addr().String())
	sent := make(chan error, 1)
	go func() { sent <- send(c, "ann@client.test", []string{"help@example.test"}, message("cut", 100)) }()
	<-recv.entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace: cut off at once
	if err := srv.Shutdown(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown: %v", err)
	}
	if err := <-recv.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the transaction's context ended with %v, want canceled", err)
	}
	if err := <-sent; err == nil {
		t.Error("the client was answered 250 for a message never stored")
	}
	<-served
}
