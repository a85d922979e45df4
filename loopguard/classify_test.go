package loopguard

import (
	"strings"
	"testing"
)

// TestEnvelope covers the reverse path: the daemon passes the SMTP one,
// explain falls back to Return-Path.
func TestEnvelope(t *testing.T) {
	plain := "From: Someone <someone@example.org>\nSubject: hello\n\nhi\n"
	auto := "From: Someone <someone@example.org>\nSubject: away\nAuto-Submitted: auto-replied\n\naway\n"
	tests := []struct {
		name string
		env  Envelope
		raw  string
		want Class
	}{
		{"person", Envelope{MailFrom: "someone@example.org"}, plain, Human},
		{"null reverse path alone is a bounce", Envelope{MailFrom: ""}, plain, Bounce},
		{"null reverse path written <>", Envelope{MailFrom: "<>"}, plain, Bounce},
		{"RFC 3834 auto-reply with null reverse path", Envelope{}, auto, AutoReply},
		{"offline without Return-Path: unknown, not null", Envelope{Offline: true}, plain, Human},
		{"offline with Return-Path <>", Envelope{Offline: true}, "Return-Path: <>\n" + plain, Bounce},
		{"offline, --mail-from wins", Envelope{Offline: true, MailFrom: "x@example.org"}, "Return-Path: <>\n" + plain, Human},
	}
	g := New(Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if v := g.Classify(tc.env, []byte(tc.raw)); v.Class != tc.want {
				t.Errorf("class %s, want %s: %v", v.Class, tc.want, v.Reasons)
			}
		})
	}
}

// TestRules covers single rules the corpus shows only in combination.
func TestRules(t *testing.T) {
	tests := []struct {
		name   string
		header string
		want   Class
	}{
		{"Auto-Submitted: no", "Auto-Submitted: no", Human},
		{"Auto-Submitted: No with a comment", "Auto-Submitted: No (written by hand)", Human},
		{"Auto-Submitted with a comment", "Auto-Submitted: auto-replied (vacation)", AutoReply},
		{"Auto-Submitted: auto-notified (RFC 5436)", "Auto-Submitted: auto-notified", AutoReply},
		{"X-Autoreply: no is not an auto-reply", "X-Autoreply: no", Human},
		{"X-Auto-Response-Suppress alone is a hint", "X-Auto-Response-Suppress: All", Human},
		{"suppress plus out-of-office subject", "X-Auto-Response-Suppress: OOF\nSubject: Out of Office: back Monday", AutoReply},
		{"out-of-office subject from a person", "Subject: Out of office: what do you suggest?", Human},
		{"reply to an acknowledgement", "Subject: Re: Ticket received [#5]\nFrom: noreply@example.org", Human},
		{"noreply sender with acknowledgement", "Subject: Request received\nFrom: no-reply@desk.example", AutoReply},
		{"Precedence is case-insensitive", "Precedence: BULK", Bulk},
		{"X-Precedence: list", "X-Precedence: list", Bulk},
		{"Exchange agent field alone", "X-MS-Exchange-Generated-Message-Source: Transport Rule Agent", Human},
		{"Exchange agent field and an OOF subject", "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\nSubject: Automatic reply: x", AutoReply},
		{"List-Id beats nothing", "List-Id: <x.example.org>", Bulk},
		{"auto-reply beats list", "List-Id: <x.example.org>\nAuto-Submitted: auto-replied", AutoReply},
		{"31 Received fields loop", strings.Repeat("Received: from a by b\n", 31), Looping},
		{"30 Received fields do not", strings.Repeat("Received: from a by b\n", 30), Human},
		{"bounce subject from a person", "From: Ann <ann@example.org>\nSubject: Undeliverable: my laptop", Human},
		{"bounce subject from the postmaster", "From: postmaster@example.org\nSubject: Undeliverable: x", Bounce},
	}
	g := New(Options{})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.header + "\nMessage-ID: <a@b>\n\nbody\n"
			if !strings.Contains(tc.header, "From:") {
				raw = "From: Someone <someone@example.org>\n" + raw
			}
			v := g.Classify(Envelope{MailFrom: "someone@example.org"}, []byte(raw))
			if v.Class != tc.want {
				t.Errorf("class %s, want %s: %v", v.Class, tc.want, v.Reasons)
			}
		})
	}
}

func TestClassifyNeverEmpty(t *testing.T) {
	g := New(Options{})
	for _, raw := range []string{"", "\n", "\r\n\r\n", ":", "From", "\x00\x00", "Content-Type: multipart/mixed; boundary=x\n\n--x\n--x\n--x--"} {
		v := g.Classify(Envelope{Offline: true}, []byte(raw))
		if v.Class == "" || len(v.Reasons) == 0 {
			t.Errorf("%q: empty verdict %+v", raw, v)
		}
	}
}
