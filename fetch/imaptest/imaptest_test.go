package imaptest

import (
	"testing"
	"time"
)

func TestStartAppendCount(t *testing.T) {
	s := Start(t, Options{TLS: true})
	defer func() {
		if t.Failed() {
			t.Log(s.Log())
		}
	}()
	s.Append("INBOX", []byte("Subject: hi\r\n\r\nbody\r\n"))
	if n := s.Count("INBOX"); n != 1 {
		t.Fatalf("count = %d, want 1\n%s", n, s.Log())
	}
	s.Stop()
	s.Start()
	if n := s.Count("INBOX"); n != 1 {
		t.Fatalf("after restart count = %d, want 1", n)
	}
	uv := s.UIDValidity("INBOX")
	s.Append("Support", []byte("Subject: x\r\n\r\nx\r\n"))
	s.Recreate("Support")
	if s.Count("Support") != 0 || uv == 0 {
		t.Fatal("recreate")
	}
}

func TestRestartTime(t *testing.T) {
	s := Start(t, Options{})
	c := s.Client()
	defer c.Logout()
	t0 := time.Now()
	s.Stop()
	t1 := time.Now()
	s.Start()
	t.Logf("stop %v start %v", t1.Sub(t0), time.Since(t1))
	// The restarted server serves.
	s.Append("INBOX", []byte("Subject: after\r\n\r\nx\r\n"))
	if n := s.Count("INBOX"); n != 1 {
		t.Fatalf("after the restart: %d messages in INBOX, want 1", n)
	}
}
