package mta

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/threading"
)

// The SMTP dialogue a sender sees (issue 22): unknown addresses refused at
// RCPT, bare LF refused at once, every refusal logged, replies that read
// like a mail server's.

func startWithAddresses(t *testing.T) (*harness, string) {
	t.Helper()
	k, err := threading.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	reply, err := k.ReplyAddress("c1", "p1", "example.test")
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, Config{Hostname: "mx.example.test", Recipients: &threading.Addresses{Tokens: k,
		ReplyDomains: []string{"example.test"}, Support: []string{"support@example.test", "help@example.test"},
		MailFrom: "notifications@example.test"}}, false)
	return h, reply
}

func TestRecipientsKnownAtRCPT(t *testing.T) {
	h, reply := startWithAddresses(t)
	c := dial(t, h.addr)
	if err := c.Mail("ann@client.test", nil); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, rcpt string
		code       int
	}{
		{"support address", "support@example.test", 250},
		{"alias", "Help@Example.test", 250},
		{"reply token that verifies", reply, 250},
		{"mail-from address", "notifications@example.test", 250},
		{"postmaster", "postmaster@example.test", 250},
		{"postmaster without domain", "postmaster", 250},
		{"abuse", "abuse@example.test", 250},
		{"unknown local part", "nosuchuser@example.test", 550},
		{"typo of the support address", "suport@example.test", 550},
		{"forged reply token", "reply+AAAAforged@example.test", 550},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Rcpt(tc.rcpt, nil)
			if tc.code == 250 {
				if err != nil {
					t.Fatalf("RCPT %s: %v, want 250", tc.rcpt, err)
				}
				return
			}
			se, ok := err.(*smtp.SMTPError)
			if !ok || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) || !strings.Contains(se.Message, "No such address") {
				t.Fatalf("RCPT %s: %v, want 550 5.1.1 No such address", tc.rcpt, err)
			}
			if !strings.Contains(h.logs.String(), "recipient refused") || !strings.Contains(h.logs.String(), tc.rcpt) {
				t.Errorf("no log line for %s:\n%s", tc.rcpt, h.logs)
			}
		})
	}
	rej := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	if len(rej) != 3 || !strings.Contains(rej[0].Reason, "unknown recipient <nosuchuser@example.test>") ||
		!strings.Contains(rej[2].Reason, "reply address rejected") {
		t.Errorf("journaled refusals = %+v", rej)
	}
}

func TestRepliesReadLikeAMailServer(t *testing.T) {
	h, _ := startWithAddresses(t)
	nc, br := rawConnGreeting(t, h.addr)
	if !strings.HasPrefix(br.greeting, "220 mx.example.test ESMTP deskmail ready") {
		t.Errorf("banner %q", br.greeting)
	}
	br.dialogue(t, nc, "EHLO client.test", "250", "MAIL FROM:<ann@client.test>", "250 2.1.0 Sender OK",
		"RCPT TO:<support@example.test>", "250 2.1.5 Recipient OK", "RCPT TO:<Postmaster>", "250 2.1.5 Recipient OK")
}

func TestBareLFInDATARefusedAtOnce(t *testing.T) {
	h, _ := startWithAddresses(t) // read timeout 5 minutes: only the check can answer in time
	nc, br := rawConnGreeting(t, h.addr)
	br.dialogue(t, nc, "EHLO client.test", "250", "MAIL FROM:<ann@client.test>", "250",
		"RCPT TO:<support@example.test>", "250", "DATA", "354")
	// LF line endings throughout and LF.LF at the end, which must not end
	// the data: the answer comes at once, not after the read timeout.
	io.WriteString(nc, "From: ann@client.test\nSubject: hi\n\nhello\n.\n")
	got := br.reply(t)
	if !strings.HasPrefix(got, "550 5.5.2") || !strings.Contains(got, "bare LF") {
		t.Fatalf("reply %q, want 550 5.5.2 naming the bare LF", got)
	}
	if rest := readUntilClosed(br.Reader); len(rest) != 0 {
		t.Errorf("after the refusal: %q, want the connection closed", rest)
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	rej := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	if len(rej) != 1 || !strings.Contains(rej[0].Reason, "bare LF") {
		t.Errorf("journal %+v", rej)
	}
	if !strings.Contains(h.logs.String(), "bare LF") {
		t.Errorf("log:\n%s", h.logs)
	}
}

func TestBareLFInBDATRefused(t *testing.T) {
	h, _ := startWithAddresses(t)
	nc, br := rawConnGreeting(t, h.addr)
	br.dialogue(t, nc, "EHLO client.test", "250", "MAIL FROM:<ann@client.test>", "250",
		"RCPT TO:<support@example.test>", "250")
	chunk := "From: ann@client.test\r\nSubject: hi\n\r\nhello\r\n"
	fmt.Fprintf(nc, "BDAT %d LAST\r\n%s", len(chunk), chunk)
	if got := br.reply(t); !strings.HasPrefix(got, "550 5.5.2") {
		t.Fatalf("BDAT reply %q, want 550 5.5.2", got)
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 0 {
		t.Errorf("%d messages stored", n)
	}
	rej := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	if len(rej) != 1 || !strings.Contains(rej[0].Reason, "bare LF") {
		t.Errorf("journal %+v", rej)
	}
}

func TestSizeRefusalAtMAILIsLogged(t *testing.T) {
	h := start(t, Config{MaxMessageBytes: 1000}, false)
	c := dial(t, h.addr)
	if err := c.Mail("ann@client.test", &smtp.MailOptions{Size: 99999999}); smtpCode(err) != 552 {
		t.Fatalf("MAIL SIZE=99999999: %v, want 552", err)
	}
	if !strings.Contains(h.logs.String(), "command refused") || !strings.Contains(h.logs.String(), "code=552") {
		t.Errorf("log:\n%s", h.logs)
	}
	rej := entries(t, h.db, journal.Filter{Status: journal.StatusRejected})
	if len(rej) != 1 || !strings.Contains(rej[0].Reason, "SIZE= over the limit of 1000 bytes") {
		t.Errorf("journal %+v", rej)
	}
}

type replyReader struct {
	*bufio.Reader
	greeting string
}

// dialogue sends each command of pairs (command, wanted reply prefix) and
// checks its reply.
func (r *replyReader) dialogue(t *testing.T, nc net.Conn, pairs ...string) {
	t.Helper()
	for i := 0; i+1 < len(pairs); i += 2 {
		fmt.Fprintf(nc, "%s\r\n", pairs[i])
		if got := r.reply(t); !strings.HasPrefix(got, pairs[i+1]) {
			t.Fatalf("%s: %q, want %q", pairs[i], got, pairs[i+1])
		}
	}
}

// reply reads one reply (the last line of a multi-line one).
func (r *replyReader) reply(t *testing.T) string {
	t.Helper()
	for {
		l, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read reply: %v (%q)", err, l)
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) < 4 || l[3] != '-' {
			return l
		}
	}
}

func rawConnGreeting(t *testing.T, addr string) (net.Conn, *replyReader) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second)) // the test's own bound
	br := bufio.NewReader(nc)
	g, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(g, "220 ") {
		t.Fatalf("greeting %q %v", g, err)
	}
	return nc, &replyReader{Reader: br, greeting: strings.TrimRight(g, "\r\n")}
}

// readerSpy is the real receiver; it records whether each message's data
// went through crlfReader, the session's own bare-LF check.
type readerSpy struct {
	Receiver
	mu      sync.Mutex
	checked []bool
}

func (s *readerSpy) Receive(ctx context.Context, env inbound.Envelope, data io.Reader) (inbound.Receipt, error) {
	d, _ := data.(dataReader)
	_, ok := d.r.(*crlfReader)
	s.mu.Lock()
	s.checked = append(s.checked, ok)
	s.mu.Unlock()
	return s.Receiver.Receive(ctx, env, data)
}

// TestDATACheckedForBareLFOnce: go-smtp's DATA reader refuses bare LFs
// itself (RejectBareLF), so the session does not scan DATA's bytes a
// second time; BDAT's chunks, which go-smtp passes as they are, still go
// through crlfReader (TestBareLFInDATARefusedAtOnce and
// TestBareLFInBDATRefused show both are still refused).
func TestDATACheckedForBareLFOnce(t *testing.T) {
	spy := &readerSpy{}
	h := startWith(t, Config{}, false, func(r Receiver) Receiver { spy.Receiver = r; return spy })
	c := dial(t, h.addr)
	if err := send(c, "ann@client.test", []string{"help@example.test"}, message("data1", 2000)); err != nil {
		t.Fatal(err)
	}
	nc, br := rawConnGreeting(t, h.addr)
	br.dialogue(t, nc, "EHLO client.test", "250", "MAIL FROM:<ann@client.test>", "250",
		"RCPT TO:<help@example.test>", "250")
	chunk := message("bdat1", 500)
	fmt.Fprintf(nc, "BDAT %d LAST\r\n%s", len(chunk), chunk)
	if got := br.reply(t); !strings.HasPrefix(got, "250") {
		t.Fatalf("BDAT reply %q", got)
	}
	spy.mu.Lock()
	defer spy.mu.Unlock()
	if len(spy.checked) != 2 || spy.checked[0] || !spy.checked[1] {
		t.Fatalf("crlfReader used (DATA, BDAT) = %v, want [false true]", spy.checked)
	}
	if n := len(entries(t, h.db, journal.Filter{Status: journal.StatusReceived})); n != 2 {
		t.Errorf("%d messages stored, want 2", n)
	}
}
