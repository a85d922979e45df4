package threading

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseTag(t *testing.T) {
	for _, tc := range []struct {
		name, subject, tag string
		ok                 bool
	}{
		{"plain", "[#1234] Printer on fire", "1234", true},
		{"after reply markers", "AW: Re: [#1234] Printer", "1234", true},
		{"at the end", "Printer on fire [#77]", "77", true},
		{"lowercased", "[#AbC-9] x", "abc-9", true},
		{"first of two", "[#1] [#2]", "1", true},
		{"not closed then valid", "[#12 oops [#34] x", "34", true},
		{"no hash", "[1234] x", "", false},
		{"empty tag", "[#] x", "", false},
		{"too long", "[#" + strings.Repeat("9", MaxTagLen+1) + "]", "", false},
		{"max length", "[#" + strings.Repeat("9", MaxTagLen) + "]", strings.Repeat("9", MaxTagLen), true},
		{"space inside", "[# 12]", "", false},
		{"non-ascii inside", "[#1é2]", "", false},
		{"none", "Hello", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag, ok := ParseTag(tc.subject)
			if tag != tc.tag || ok != tc.ok {
				t.Errorf("ParseTag(%q) = %q, %v; want %q, %v", tc.subject, tag, ok, tc.tag, tc.ok)
			}
		})
	}
}

func TestNormalizeSubject(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Re: Printer", "Printer"},
		{"RE: re: Fwd: FW: Printer", "Printer"},
		{"AW: WG: Drucker", "Drucker"},
		{"SV: VS: Skrivare", "Skrivare"},
		{"Antw: Doorst: Printer", "Printer"},
		{"TR: RE : Imprimante", "Imprimante"},
		{"RV: Impresora", "Impresora"},
		{"R: I: Stampante", "Stampante"},
		{"Re[2]: Re(3): x", "x"},
		{"回复：打印机", "打印机"},
		{"ΑΠ: εκτυπωτής", "εκτυπωτής"},
		{"Re:   many    spaces  ", "many spaces"},
		{"Re: [#12] Printer", "[#12] Printer"},
		{"Note: not a marker", "Note: not a marker"},
		{"Ticket 12: Re: x", "Ticket 12: Re: x"},
		{"Re:", ""},
	} {
		if got := NormalizeSubject(tc.in); got != tc.want {
			t.Errorf("NormalizeSubject(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestThreadSubject(t *testing.T) {
	for _, tc := range []struct{ topic, tag, want string }{
		{"Printer on fire", "1234", "[#1234] Printer on fire"},
		{"Re: AW: [#1234] Printer on fire", "1234", "[#1234] Printer on fire"},
		{"Printer", "", "Printer"},
		{"", "9", "[#9]"},
		{"x", "a b!c", "[#abc] x"},
	} {
		if got := ThreadSubject(tc.topic, tc.tag); got != tc.want {
			t.Errorf("ThreadSubject(%q, %q) = %q, want %q", tc.topic, tc.tag, got, tc.want)
		}
	}
}

func FuzzSubjectTag(f *testing.F) {
	for _, s := range []string{
		"[#1234] Printer", "AW: Re: [#x-1] y", "[#", "[#]", "[#12 [#34]", "Re[2]: x",
		"回复：[#7]", "İ[#1]", "\xff[#1]\xff", strings.Repeat("[#1", 100),
	} {
		f.Add(s, "1234")
	}
	f.Fuzz(func(t *testing.T, subject, tag string) {
		if got, ok := ParseTag(subject); ok {
			if got == "" || len(got) > MaxTagLen || !strings.Contains(strings.ToLower(subject), "[#"+got+"]") {
				t.Fatalf("ParseTag(%q) = %q: not a tag of the subject", subject, got)
			}
		}
		stripped := StripTag(subject)
		if len(stripped) > len(subject) {
			t.Fatalf("StripTag grew %q to %q", subject, stripped)
		}
		n := NormalizeSubject(subject)
		if utf8.ValidString(subject) && !utf8.ValidString(n) {
			t.Fatalf("NormalizeSubject(%q) = %q: broke UTF-8", subject, n)
		}
		// What we format, we read back.
		out := ThreadSubject(subject, tag)
		if ft := FormatTag(tag); ft != "[#]" {
			want := strings.ToLower(ft[2 : len(ft)-1])
			if got, ok := ParseTag(out); !ok || got != want {
				t.Fatalf("ThreadSubject(%q, %q) = %q: ParseTag gives %q, %v; want %q", subject, tag, out, got, ok, want)
			}
		}
	})
}
