package loopguard

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// TestHostileInputIsLinear guards against the quadratic paths found while
// writing the reader (a field folded 80 000 times took 10 s). It measures
// work, not wall-clock time: the bytes allocated must stay within a small
// multiple of the input.
func TestHostileInputIsLinear(t *testing.T) {
	inputs := map[string]string{
		"field folded 80 000 times":    "Subject: x\n" + strings.Repeat(" a\n", 80000) + "\nbody",
		"500 000 empty parts":          "Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\n", 500000),
		"part header folded":           "Content-Type: multipart/mixed; boundary=b\n\n--b\nX: y\n" + strings.Repeat(" a\n", 80000) + "\nbody\n--b--\n",
		"100 000 DSN recipient blocks": "Content-Type: multipart/report; report-type=delivery-status; boundary=b\n\n--b\nContent-Type: message/delivery-status\n\n" + strings.Repeat("Final-Recipient: rfc822; a@b\n\n", 100000),
	}
	g := New(Options{})
	for name, raw := range inputs {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			v := g.Classify(Envelope{MailFrom: "a@b"}, []byte(raw))
			runtime.ReadMemStats(&after)
			if v.Class == "" {
				t.Error("no class")
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(raw)) {
				t.Errorf("allocated %d bytes for %d bytes of input", alloc, len(raw))
			}
		})
	}
}

func TestParseDeliveryStatus(t *testing.T) {
	ds := "Reporting-MTA: dns; mx.example\n\n" +
		"Final-Recipient: rfc822; a@example.org\nAction: delivered\nStatus: 2.0.0\n\n" +
		"Original-Recipient: rfc822;B@Example.org\nFinal-Recipient: rfc822; b2@example.org\nAction: failed\nStatus: 5.0.0 (permanent failure)\nDiagnostic-Code: smtp; 550 no\n"
	mta, rcpts, err := parseDeliveryStatus([]byte(ds))
	if err != nil {
		t.Fatal(err)
	}
	want := []BounceRecipient{
		{Recipient: "a@example.org", FinalRecipient: "a@example.org", Action: "delivered", Status: "2.0.0"},
		{Recipient: "b@example.org", FinalRecipient: "b2@example.org", Action: "failed", Status: "5.0.0", Diagnostic: "550 no"},
	}
	if mta != "mx.example" || !reflect.DeepEqual(rcpts, want) {
		t.Errorf("got %q %+v", mta, rcpts)
	}
	if _, _, err := parseDeliveryStatus([]byte("Reporting-MTA: dns; x\n")); err == nil {
		t.Error("no recipients, no error")
	}
}
