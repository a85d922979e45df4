package inbound

import (
	"testing"
	"time"
)

// A stored email's metadata and state are read with one string for the
// record, its fields pieces of it: not one allocation a field. The
// fields stay the record's as it was read, whatever its buffer holds
// after.
func TestDecodeMetaAndStateAllocateOnceForTheirStrings(t *testing.T) {
	m := Meta{ID: "01JEXAMPLE0000000000000000", Received: time.Date(2026, 12, 8, 2, 0, 0, 0, time.UTC),
		Envelope: Envelope{MailFrom: "cust1@c1-x.bench", Rcpts: []string{"support@bench.test"}, RemoteIP: "127.0.0.1", Helo: "client.bench", Proto: "ESMTP"},
		Size:     2000, MessageID: "<1.x@c.bench>", From: "cust1@c1-x.bench", Subject: "question 1", BodyHash: "0123456789abcdef",
		JournalID: "01JJOURNAL0000000000000000", Class: "human"}
	v, err := encodeMeta(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	var got Meta
	// One string for the record and the list of recipients (it was one
	// allocation a field besides: 13).
	if n := testing.AllocsPerRun(100, func() { _ = decodeMeta(v, &got) }); n > 2 {
		t.Errorf("decodeMeta: %.0f allocations, want 2", n)
	}
	if err := decodeMeta(v, &got); err != nil {
		t.Fatal(err)
	}
	for i := range v {
		v[i] = 'X'
	}
	if got.ID != m.ID || got.Envelope.MailFrom != m.Envelope.MailFrom || got.Envelope.Rcpts[0] != m.Envelope.Rcpts[0] ||
		got.Subject != m.Subject || got.Class != m.Class {
		t.Errorf("the fields changed with the buffer: %+v", got)
	}

	st := State{Seq: 7, Size: 2000, Stored: m.Received, Keys: []string{"s/cust1@c1-x.bench", "c/support@bench.test"}}
	st.Owner = "mx.bench.test"
	v, err = encodeState(nil, &st)
	if err != nil {
		t.Fatal(err)
	}
	var gotSt State
	if n := testing.AllocsPerRun(100, func() { _ = decodeState(v, &gotSt) }); n > 2 {
		t.Errorf("decodeState: %.0f allocations, want 2 (the record, the list of keys)", n)
	}
	if err := decodeState(v, &gotSt); err != nil || gotSt.Keys[1] != st.Keys[1] || gotSt.Owner != st.Owner {
		t.Fatalf("decodeState: %+v, %v", gotSt, err)
	}
}
