package mta

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/queue"
)

const testMsg = "From: a@example.test\r\nTo: b@client.test\r\nSubject: hi\r\nMessage-ID: <1@example.test>\r\n\r\nhello\r\n"

func TestRelayReusesOneConnectionWithSTARTTLSAndAuth(t *testing.T) {
	s := newSink(t, true)
	r := &Relay{Addr: s.addr, Hostname: "deskmail.test", Username: "u", Password: "secret", TLS: insecureClientTLS()}
	defer r.Close()
	for range 3 {
		res, err := r.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(res.Reply, "250 ") {
			t.Errorf("reply %q", res.Reply)
		}
	}
	got := s.got()
	if len(got) != 3 {
		t.Fatalf("sink got %d emails", len(got))
	}
	if !got[0].tls || got[0].from != "bounce+1@example.test" || got[0].to != "b@client.test" {
		t.Errorf("first email %+v", got[0])
	}
	if s.connections() != 1 || len(s.Auths()) != 1 || s.Auths()[0] != "u:secret" {
		t.Errorf("%d connections and auths %q, want one of each", s.connections(), s.Auths())
	}
}

func TestRelayAnswers(t *testing.T) {
	cases := []struct {
		name      string
		answer    error
		permanent bool
	}{
		{"4xx is temporary", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"}, false},
		{"5xx is permanent", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newSink(t, false)
			s.Answer = func(n int) error {
				if n == 1 {
					return tc.answer
				}
				return nil
			}
			r := &Relay{Addr: s.addr, Hostname: "deskmail.test", Insecure: true}
			defer r.Close()
			_, err := r.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg))
			if err == nil || queue.IsPermanent(err) != tc.permanent {
				t.Fatalf("err %v, permanent %v; want permanent %v", err, queue.IsPermanent(err), tc.permanent)
			}
			if !strings.Contains(err.Error(), tc.answer.(*smtp.SMTPError).Message) {
				t.Errorf("err %q does not carry the reply", err)
			}
			// The connection is still good after a refusal.
			if _, err := r.Deliver(context.Background(), "bounce+2@example.test", "b@client.test", []byte(testMsg)); err != nil {
				t.Fatal(err)
			}
			if s.connections() != 1 || len(s.got()) != 1 {
				t.Errorf("%d connections, %d emails; want 1 and 1", s.connections(), len(s.got()))
			}
		})
	}
}

func TestRelayWithoutSTARTTLSIsRefusedUnlessInsecure(t *testing.T) {
	s := newSink(t, false)
	r := &Relay{Addr: s.addr, Hostname: "deskmail.test"}
	_, err := r.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg))
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("err %v, want a temporary failure", err)
	}
	if len(s.got()) != 0 {
		t.Error("the email went in clear")
	}
}

func TestRelayDownIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r := &Relay{Addr: addr, Hostname: "deskmail.test", Insecure: true}
	_, err = r.Deliver(context.Background(), "bounce+1@example.test", "b@client.test", []byte(testMsg))
	if err == nil || queue.IsPermanent(err) {
		t.Fatalf("err %v, want a temporary failure", err)
	}
}

func TestCaptureWritesAnEMLFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), CaptureDir)
	c := &Capture{Dir: dir}
	res, err := c.Deliver(context.Background(), "bounce+job1@example.test", "b@client.test\r\nX: y", []byte(testMsg))
	if err != nil || !res.Captured {
		t.Fatal(res, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "job1.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "Return-Path: <bounce+job1@example.test>\r\nX-Deskmail-Envelope-To: b@client.test__X: y\r\n") ||
		!strings.HasSuffix(string(b), testMsg) {
		t.Errorf("file:\n%s", b)
	}
}
