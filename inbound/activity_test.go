package inbound

import (
	"context"
	"io"
	"strings"
	"testing"
)

// probeReader reports, at its first read, whether the activity was busy
// (the accept is in progress), then reads the message.
type probeReader struct {
	r    io.Reader
	a    *Activity
	seen *bool
}

func (p probeReader) Read(b []byte) (int, error) {
	if !*p.seen {
		*p.seen = true
		if !p.a.Busy() {
			return 0, io.ErrUnexpectedEOF
		}
	}
	return p.r.Read(b)
}

func TestActivityCountsClientAcceptsAndHolds(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	a := &Activity{Clock: clk}
	r.Activity = a
	if a.Busy() {
		t.Fatal("busy before any accept")
	}
	seen := false
	msg := "From: a@client.test\r\nMessage-ID: <act1@x>\r\n\r\nhello\r\n"
	if _, err := r.Receive(context.Background(), env, probeReader{strings.NewReader(msg), a, &seen}); err != nil {
		t.Fatalf("not busy during the accept, or: %v", err)
	}
	if !a.Busy() {
		t.Fatal("not busy right after an accept")
	}
	clk.Advance(ActivityHold)
	if a.Busy() {
		t.Fatal("still busy ActivityHold after the last accept")
	}
	// The IMAP fetcher's stores (a Via) have no client waiting: not counted.
	msg2 := "From: a@client.test\r\nMessage-ID: <act2@x>\r\n\r\nhello\r\n"
	if _, err := r.ReceiveWith(context.Background(), env, strings.NewReader(msg2), With{Via: "IMAP support: INBOX uid 1"}); err != nil {
		t.Fatal(err)
	}
	if a.Busy() {
		t.Fatal("a fetched message counted as a client's accept")
	}
	var none *Activity
	if none.Busy() {
		t.Fatal("a nil Activity is busy")
	}
}
