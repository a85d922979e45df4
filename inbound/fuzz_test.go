package inbound

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzReceive feeds arbitrary bytes to the ingest path: it must never
// panic, and whatever it accepts must be stored byte for byte.
func FuzzReceive(f *testing.F) {
	for _, s := range []string{
		"Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody\r\n",
		"From: =?utf-8?b?w7w=?= <x@y>\r\nSubject: =?bogus?q?x?=\r\n\r\n",
		"no colon line\r\n\r\n",
		"Subject: folded\r\n continued\r\n\tagain\r\n\r\n.\r\n",
		"\r\n\r\nbody only",
		"Subject: lf only\n\nbody\n",
		"X: " + string(bytes.Repeat([]byte("y"), 5000)) + "\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	r, _ := newReceiver(f, Limits{MaxMessageBytes: 64 << 10, MaxHeaderBytes: 4096, SpillBytes: 8192})
	f.Fuzz(func(t *testing.T, data []byte) {
		rc, err := r.Receive(context.Background(), env, bytes.NewReader(data))
		if err != nil {
			if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrHeaderTooLarge) {
				return
			}
			t.Fatalf("Receive: %v", err)
		}
		got := withoutTrace(t, raw(t, r, rc.ID))
		if !bytes.Equal(got, data) {
			t.Fatalf("stored %q, want %q", got, data)
		}
	})
}
