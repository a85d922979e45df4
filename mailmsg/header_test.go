package mailmsg

import (
	"reflect"
	"strings"
	"testing"
)

func TestReadHeader(t *testing.T) {
	tests := []struct {
		name     string
		raw      string
		max      int
		fields   Header
		body     string
		hasNotes bool
	}{
		{"simple", "A: 1\nB: 2\n\nbody", 1000, Header{{Name: "a", Raw: "1", Value: "1"}, {Name: "b", Raw: "2", Value: "2"}}, "body", false},
		{"crlf and folding", "Subject: a\r\n  b\r\nX: y\r\n\r\nbody", 1000, Header{{Name: "subject", Raw: "a b", Value: "a b"}, {Name: "x", Raw: "y", Value: "y"}}, "body", false},
		{"mbox From line", "From a@b Wed Nov 25 2026\nA: 1\n\nb", 1000, Header{{Name: "a", Raw: "1", Value: "1"}}, "b", false},
		{"space before colon", "Subject : hi\n\nb", 1000, Header{{Name: "subject", Raw: "hi", Value: "hi", Obsolete: true}}, "b", false},
		{"obsolete From first is a field, not an mbox line", "From : Ada <a@b>\nFrom: m@c\n\nb", 1000, Header{{Name: "from", Raw: "Ada <a@b>", Value: "Ada <a@b>", Obsolete: true}, {Name: "from", Raw: "m@c", Value: "m@c"}}, "b", false},
		{"no empty line", "A: 1\nbody text here\n", 1000, Header{{Name: "a", Raw: "1", Value: "1"}}, "body text here\n", true},
		{"over the cap", "A: 1\nB: 22222222222\n\nbody", 10, Header{{Name: "a", Raw: "1", Value: "1"}}, "", true},
		{"damaged field skipped", "A: 1\nX\x00Y: 2\nB: 3\n\nb", 1000, Header{{Name: "a", Raw: "1", Value: "1"}, {Name: "b", Raw: "3", Value: "3"}}, "b", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, body, notes := ReadHeader([]byte(tc.raw), tc.max)
			if !reflect.DeepEqual(h, tc.fields) {
				t.Errorf("fields %+v, want %+v", h, tc.fields)
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

// TestReadHeaderAllocations: the fields of a header are pieces of one
// copy of it, their common names constants (issue 27: the parse of
// every accepted email); before, each field took two or three strings of
// its own and the field list grew by doubling.
func TestReadHeaderAllocations(t *testing.T) {
	raw := []byte("From: Customer <customer@example.org>\r\nTo: <support@localhost>\r\n" +
		"Subject: A question about my order\r\nMessage-ID: <1.bench@example.org>\r\n" +
		"Date: Mon, 7 Dec 2026 17:25:00 +0000 (UTC)\r\nMIME-Version: 1.0\r\nX-Custom-Field: yes\r\n\r\nbody\r\n")
	var h Header
	n := testing.AllocsPerRun(100, func() { h, _, _ = ReadHeader(raw, 1<<20) })
	if len(h) != 7 || h[0].Name != "from" || h[5].Name != "mime-version" || h[6].Name != "x-custom-field" ||
		h[3].Raw != "<1.bench@example.org>" {
		t.Fatalf("fields: %+v", h)
	}
	t.Logf("%v allocations", n)
	// One copy of the header, the field list, the lower-cased name no
	// table holds (X-Custom-Field), and ReadHeader's closure.
	if n > 4 {
		t.Errorf("%v allocations to read a header of 7 fields, want at most 4", n)
	}
}

// headerExtent counts every line with a colon as a field at most, so a
// header of one field and then many lines like ":" (neither a field nor
// a continuation: the header ends there) sized the field list for all of
// them, and kept that list for the whole parse; it is cut to size.
func TestReadHeaderListCutToSize(t *testing.T) {
	raw := []byte("From: a@b.example\r\n" + strings.Repeat(":\r\n", 10000) + "\r\nbody\r\n")
	h, _, _ := ReadHeader(raw, 1<<20)
	if len(h) != 1 || h[0].Name != "from" {
		t.Fatalf("fields: %+v", h)
	}
	if cap(h) > 18 {
		t.Errorf("field list of capacity %d kept for one field", cap(h))
	}
}
