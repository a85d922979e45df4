package fetch

import (
	"strings"
	"testing"
)

func TestReturnPath(t *testing.T) {
	for name, tc := range map[string]struct{ raw, want string }{
		"return-path":       {"Return-Path: <bounce+x@list.test>\r\nFrom: Ann <ann@client.test>\r\n\r\nbody", "bounce+x@list.test"},
		"null path: bounce": {"Return-Path: <>\r\nFrom: MAILER-DAEMON@mx.test\r\n\r\nbody", ""},
		"no return-path":    {"From: Ann <ann@client.test>\r\nSubject: x\r\n\r\nbody", "ann@client.test"},
		"first of two":      {"Return-Path: <a@x.test>\r\nReturn-Path: <b@x.test>\r\n\r\n", "a@x.test"},
		"bare LF":           {"Return-Path: <lf@x.test>\nFrom: y@x.test\n\nbody", "lf@x.test"},
		"header only":       {"From: only@x.test", "only@x.test"},
		"garbage":           {"\x00\x01 not a header", ""},
	} {
		t.Run(name, func(t *testing.T) {
			if got := returnPath([]byte(tc.raw)); got != tc.want {
				t.Fatalf("returnPath = %q, want %q", got, tc.want)
			}
		})
	}
}

// FuzzReturnPath: any message bytes (the server's, so untrusted) give an
// answer without a panic, one line and bounded.
func FuzzReturnPath(f *testing.F) {
	f.Add([]byte("Return-Path: <a@b.test>\r\n\r\n"))
	f.Add([]byte("Return-Path: <>\r\n\r\n"))
	f.Add([]byte("From: \"x\" <x@y>\r\n\r\n"))
	f.Add([]byte("Return-Path: =?utf-8?q?x?= <a\r\n b@c>\r\n\r\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		got := returnPath(raw)
		if strings.ContainsAny(got, "\r\n") || len(got) > len(raw) {
			t.Fatalf("returnPath(%q) = %q", raw, got)
		}
	})
}

func TestSettingsRedactAndLoopback(t *testing.T) {
	if got := redact("imaps://u:hunter2@h/INBOX"); strings.Contains(got, "hunter2") {
		t.Fatalf("redact = %q", got)
	}
	for host, want := range map[string]bool{"127.0.0.1": true, "::1": true, "localhost": true, "mail.example.com": false, "10.0.0.1": false} {
		if loopback(host) != want {
			t.Errorf("loopback(%q) != %v", host, want)
		}
	}
}
