package journal

import (
	"testing"
	"time"
)

// A journal entry is read with one string for the record, its plain
// strings pieces of it (the pipeline reads each email's entry back
// twice), and its fields stay as read whatever the buffer holds after.
func TestDecodeEntryAllocatesOnceForItsStrings(t *testing.T) {
	e := Entry{ID: "01JJOURNAL0000000000000000", Time: time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC), Direction: In, Status: "accepted",
		MessageID: "<1.x@c.bench>", StoredID: "01JSTORED00000000000000000", EnvelopeFrom: "cust1@c1-x.bench", EnvelopeTo: []string{"support@bench.test"},
		From: "cust1@c1-x.bench", Subject: "question 1", Size: 2000, RemoteIP: "127.0.0.1", Proto: "ESMTP", Class: "human",
		Action: "stored; may notify", Conversation: "01JCONV0000000000000000000", ThreadBy: "new", Auth: "spf=none dkim=none dmarc=none"}
	b, err := encodeEntry(&e)
	if err != nil {
		t.Fatal(err)
	}
	var got Entry
	// The record's string, the list of recipients and the Message-ID,
	// whose < > json.Marshal writes as \u003c \u003e (one allocation a
	// string besides: 16).
	if n := testing.AllocsPerRun(100, func() { got = Entry{}; _ = decodeEntry(b, &got) }); n > 3 {
		t.Errorf("decodeEntry: %.0f allocations, want 3", n)
	}
	if err := decodeEntry(b, &got); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 'X'
	}
	if got.ID != e.ID || got.Subject != e.Subject || got.EnvelopeTo[0] != e.EnvelopeTo[0] || got.Auth != e.Auth || got.Action != e.Action {
		t.Errorf("the fields changed with the buffer: %+v", got)
	}
}
