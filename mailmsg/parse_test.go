package mailmsg

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAuthor(t *testing.T) {
	tests := []struct {
		name, header string
		want         *Address
		why          string // prefix of NoAuthor
	}{
		{"one mailbox", "From: Ada <Ada@Example.test>", &Address{Name: "Ada", Addr: "ada@example.test"}, ""},
		{"encoded name", "From: =?iso-8859-1?q?Ren=E9?= <rene@example.test>", &Address{Name: "René", Addr: "rene@example.test"}, ""},
		{"encoded comma in name", "From: =?utf-8?q?Doe=2C_John?= <j@example.test>", &Address{Name: "Doe, John", Addr: "j@example.test"}, ""},
		{"obsolete spelling alone is the From", "From : Ada <ada@example.test>", &Address{Name: "Ada", Addr: "ada@example.test"}, ""},
		{"no From", "To: a@example.test", nil, NoFrom},
		{"the attack: From : then From:", "From : Ada <ada@example.test>\nFrom: x <mallory@evil.test>", nil, AmbiguousAuthor + ": 2 From fields (1 written \"From :\""},
		{"two From fields", "From: a@example.test\nFROM: b@example.test", nil, AmbiguousAuthor + ": 2 From fields"},
		{"tab before the colon", "From\t: a@example.test\nfrom: b@example.test", nil, AmbiguousAuthor + ": 2 From fields (1"},
		{"several mailboxes", "From: a@example.test, b@example.test", nil, AmbiguousAuthor + ": From names 2 mailboxes"},
		{"group", "From: team: a@example.test, b@example.test;", nil, AmbiguousAuthor + ": From names 2 mailboxes"},
		{"unparsable", "From: <<a@@>>", nil, AmbiguousAuthor + ": From does not parse"},
		{"empty", "From: ", nil, AmbiguousAuthor + ": From does not parse"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := Parse([]byte(tc.header+"\n\nbody\n"), Limits{})
			if !reflect.DeepEqual(m.Author, tc.want) {
				t.Errorf("author %+v, want %+v", m.Author, tc.want)
			}
			if !strings.HasPrefix(m.NoAuthor, tc.why) || (tc.why == "") != (m.NoAuthor == "") {
				t.Errorf("no author %q, want %q", m.NoAuthor, tc.why)
			}
			if m.Ambiguous() != strings.HasPrefix(tc.why, AmbiguousAuthor) {
				t.Errorf("ambiguous %v", m.Ambiguous())
			}
		})
	}
}

func TestFields(t *testing.T) {
	raw, err := os.ReadFile("testdata/multipart.eml")
	if err != nil {
		t.Fatal(err)
	}
	m := Parse(raw, Limits{})
	if m.Subject != "été" {
		t.Errorf("subject %q: encoded words split across a fold must join", m.Subject)
	}
	if m.MessageID != "m1@example.test" || !reflect.DeepEqual(m.InReplyTo, []string{"p1@example.test"}) ||
		!reflect.DeepEqual(m.References, []string{"r0@example.test", "p1@example.test"}) {
		t.Errorf("ids %q %q %q", m.MessageID, m.InReplyTo, m.References)
	}
	if want := []Address{{Addr: "a@b.test"}, {Name: "Doe, John", Addr: "j@b.test"}}; !reflect.DeepEqual(m.To, want) {
		t.Errorf("to %+v", m.To)
	}
	if !m.Date.Equal(time.Date(2026, 12, 7, 2, 0, 0, 0, time.UTC)) {
		t.Errorf("date %v", m.Date)
	}
	if len(m.Leaves) != 3 || m.Root == nil || len(m.Root.Children) != 2 || m.Cut != "" {
		t.Fatalf("tree: %d leaves, cut %q", len(m.Leaves), m.Cut)
	}
	if m.Leaves[0].Text != "Café ouvert" || m.Leaves[1].Text != "<p>Café ouvert</p>" {
		t.Errorf("texts %q %q", m.Leaves[0].Text, m.Leaves[1].Text)
	}
	want := []Attachment{{Name: "résumé.pdf", ContentType: "application/pdf", Size: 9, Part: 2}}
	if !reflect.DeepEqual(m.Attachments, want) {
		t.Errorf("attachments %+v", m.Attachments)
	}
	if f := m.Header[0]; f.Name != "from" || f.Raw != "=?iso-8859-1?q?Ren=E9?= <rene@example.test>" || f.Value != "René <rene@example.test>" {
		t.Errorf("field %+v", f)
	}
}

// TestCharsets decodes encoded words in charsets beyond x/text's HTML
// index, which go-message's charset package knows.
func TestCharsets(t *testing.T) {
	for in, want := range map[string]string{
		"=?koi8-r?b?8NLJ18XU?=":                                         "Привет",
		"=?ISO-2022-JP?B?GyRCPCtGMDFcRXobKEI=?=":                        "自動閲答",
		"=?iso-8859-2?Q?Automatick=E1?= =?iso-8859-2?Q?_odpov=ECd=EF?=": "Automatická odpovědď",
		"=?utf-8?q?caf=C3?=\n =?utf-8?q?=A9?=":                          "café",
		"=?windows-1251?q?=CF=F0=E8?=":                                  "При",
	} {
		if got := Parse([]byte("Subject: "+in+"\n\n"), Limits{}).Subject; got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}

func nested(depth int) []byte {
	var b strings.Builder
	b.WriteString("From: a@example.test\nContent-Type: multipart/mixed; boundary=b0.\n\n")
	for i := 1; i < depth; i++ {
		fmt.Fprintf(&b, "--b%d.\nContent-Type: multipart/mixed; boundary=b%d.\n\n", i-1, i)
	}
	fmt.Fprintf(&b, "--b%d.\nContent-Type: text/plain\n\nx\n", depth-1)
	return []byte(b.String())
}

func TestCaps(t *testing.T) {
	m := Parse(nested(DefaultMaxDepth+5), Limits{})
	if !strings.Contains(m.Cut, ErrTooDeep.Error()) || len(m.Leaves) != 0 {
		t.Errorf("cut %q, %d leaves", m.Cut, len(m.Leaves))
	}
	if m.Author == nil {
		t.Error("the header is read whatever the body")
	}
	m = Parse(nested(DefaultMaxDepth), Limits{})
	if m.Cut != "" || len(m.Leaves) != 1 {
		t.Errorf("at the cap: cut %q, %d leaves", m.Cut, len(m.Leaves))
	}
	many := "From: a@example.test\nContent-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\nx\n", 1000)
	m = Parse([]byte(many), Limits{})
	if !strings.Contains(m.Cut, ErrTooManyParts.Error()) || len(m.Leaves) != DefaultMaxParts-1 {
		t.Errorf("cut %q, %d leaves", m.Cut, len(m.Leaves))
	}
	if !errors.Is(fmt.Errorf("%w", ErrTooDeep), ErrTooDeep) {
		t.Fatal()
	}
	text := "Content-Type: text/plain\n\n" + strings.Repeat("é", 100)
	m = Parse([]byte(text), Limits{MaxTextBytes: 51})
	if p := m.Leaves[0]; len(p.Text) != 50 || !p.TextCut || !utf8.ValidString(p.Text) {
		t.Errorf("text %d bytes, cut %v", len(p.Text), p.TextCut)
	}
	refs := "References:"
	for i := range 500 {
		refs += fmt.Sprintf(" <%d@x.test>", i)
	}
	m = Parse([]byte("In-Reply-To: <p@x.test>\n"+refs+"\n\n"), Limits{MaxIDs: 10})
	if len(m.InReplyTo) != 1 || len(m.References) != 9 || m.References[8] != "499@x.test" {
		t.Errorf("ids %q %q", m.InReplyTo, m.References)
	}
}

// TestHostileIsLinear measures work, not time: the bytes allocated stay
// within a small multiple of the input for the inputs that were quadratic
// somewhere (the MIME bomb: multipart nested thousands deep).
func TestHostileIsLinear(t *testing.T) {
	inputs := map[string][]byte{
		"multipart nested 16 000 deep": nested(16000),
		"field folded 80 000 times":    []byte("Subject: x\n" + strings.Repeat(" a\n", 80000) + "\nbody"),
		"500 000 empty parts":          []byte("Content-Type: multipart/mixed; boundary=b\n\n" + strings.Repeat("--b\n\n", 500000)),
		"unclosed encoded words":       []byte("Subject: " + strings.Repeat("=?a?q?", 40000) + "\n\n"),
		"200 000 From fields":          []byte(strings.Repeat("From: a@b\n", 200000) + "\n"),
	}
	for name, raw := range inputs {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			Parse(raw, Limits{MaxHeaderBytes: 4 << 20})
			runtime.ReadMemStats(&after)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*uint64(len(raw)) {
				t.Errorf("allocated %d bytes for %d bytes of input", alloc, len(raw))
			}
		})
	}
}

// FuzzParse checks that Parse never panics and keeps its promises: caps
// held, text valid UTF-8, an author only with exactly one From field.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.eml")
	more, _ := filepath.Glob("../loopguard/testdata/*.eml")
	for _, name := range append(files, more...) {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	lims := []Limits{{}, {MaxHeaderBytes: 512, MaxParts: 4, MaxDepth: 2, MaxTextBytes: 16, MaxIDs: 3, MaxAddresses: 2}}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, l := range lims {
			m := Parse(raw, l)
			l = l.withDefaults()
			if (m.Author == nil) == (m.NoAuthor == "") {
				t.Fatalf("author %v with reason %q", m.Author, m.NoAuthor)
			}
			if m.Author != nil && m.Header.Count("from") != 1 {
				t.Fatalf("author with %d From fields", m.Header.Count("from"))
			}
			if len(m.Leaves) > l.MaxParts || len(m.InReplyTo)+len(m.References) > l.MaxIDs ||
				len(m.To) > l.MaxAddresses || len(m.Attachments) > l.MaxAttachments {
				t.Fatalf("over a cap: %d leaves, %d ids, %d to", len(m.Leaves), len(m.InReplyTo)+len(m.References), len(m.To))
			}
			for _, p := range m.Leaves {
				if p.Depth > l.MaxDepth || len(p.Text) > l.MaxTextBytes || !utf8.ValidString(p.Text) {
					t.Fatalf("leaf depth %d, text %d bytes", p.Depth, len(p.Text))
				}
			}
		}
	})
}
