package loopguard

import (
	"reflect"
	"runtime"
	"strings"
	"testing"
)

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		max      int
		fields   header
		body     string
		hasNotes bool
	}{
		{"simple", "A: 1\nB: 2\n\nbody", 1000, header{{"a", "1"}, {"b", "2"}}, "body", false},
		{"crlf and folding", "Subject: a\r\n  b\r\nX: y\r\n\r\nbody", 1000, header{{"subject", "a b"}, {"x", "y"}}, "body", false},
		{"mbox From line", "From a@b Wed Nov 25 2026\nA: 1\n\nb", 1000, header{{"a", "1"}}, "b", false},
		{"space before colon", "Subject : hi\n\nb", 1000, header{{"subject", "hi"}}, "b", false},
		{"no empty line", "A: 1\nbody text here\n", 1000, header{{"a", "1"}}, "body text here\n", true},
		{"over the cap", "A: 1\nB: 22222222222\n\nbody", 10, header{{"a", "1"}}, "", true},
		{"damaged field skipped", "A: 1\nX\x00Y: 2\nB: 3\n\nb", 1000, header{{"a", "1"}, {"b", "3"}}, "b", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, body, notes := readHeader([]byte(tc.raw), tc.max)
			if !reflect.DeepEqual(h, tc.fields) {
				t.Errorf("fields %q, want %q", h, tc.fields)
			}
			if string(body) != tc.body {
				t.Errorf("body %q, want %q", body, tc.body)
			}
			if (len(notes) > 0) != tc.hasNotes {
				t.Errorf("notes %q", notes)
			}
		})
	}
}

func TestSplitMultipart(t *testing.T) {
	tests := []struct {
		name, body, boundary string
		want                 []string
	}{
		{"two parts", "pre\n--b\nA\n--b\nB\n--b--\nepi", "b", []string{"A", "B"}},
		{"crlf", "--b\r\nA\r\n--b--\r\n", "b", []string{"A"}},
		{"truncated keeps the last part", "--b\nA\n--b\nB is cut", "b", []string{"A", "B is cut"}},
		{"boundary inside a line is not a delimiter", "--b\nx--b\n--b--", "b", []string{"x--b"}},
		{"no delimiter", "just text", "b", nil},
		{"no boundary", "--b\nA", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, p := range splitMultipart([]byte(tc.body), tc.boundary, 10) {
				got = append(got, string(p))
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSplitMultipartMax(t *testing.T) {
	body := []byte(strings.Repeat("--b\nx\n", 1000))
	if n := len(splitMultipart(body, "b", 5)); n != 5 {
		t.Errorf("%d pieces, want 5", n)
	}
}

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
