package threading

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/strip")

// TestStripGolden runs every testdata/strip/NN-name.txt (StripText) and
// NN-name.html (StripHTML) against NN-name.golden. After a deliberate
// change, run with -update and read the diff before committing.
func TestStripGolden(t *testing.T) {
	inputs, err := filepath.Glob("testdata/strip/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, in := range inputs {
		ext := filepath.Ext(in)
		if ext != ".txt" && ext != ".html" {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(in), ext)
		t.Run(name, func(t *testing.T) {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			var got string
			if ext == ".html" {
				got = StripHTML(string(src))
			} else {
				got = StripText(string(src))
			}
			golden := strings.TrimSuffix(in, ext) + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("%s:\n--- got ---\n%s\n--- want ---\n%s", in, got, want)
			}
		})
	}
	if n < 15 {
		t.Errorf("only %d golden cases", n)
	}
}

func TestStripNeverEmpty(t *testing.T) {
	for _, in := range []string{
		"> all\n> quoted\n",
		"On Mon, Nov 23, 2026 at 10:15 AM X <x@y> wrote:\n> q\n",
		"-- \nsig only\n",
		"From: a\nSent: b\nTo: c\nSubject: d\n\nold\n",
		"Sent from my iPhone",
		"##- Please type your reply above this line -##\n",
	} {
		if got := StripText(in); strings.TrimSpace(got) == "" {
			t.Errorf("StripText(%q) is empty", in)
		}
	}
	if got := StripHTML(`<blockquote type="cite">only a quote</blockquote>`); got != "only a quote" {
		t.Errorf("StripHTML of a lone quote = %q, want the quote back", got)
	}
}

func TestStripLargeInput(t *testing.T) {
	head := "New text.\n\nOn Mon, Nov 23, 2026 at 10:15 AM X <x@y> wrote:\n"
	big := head + strings.Repeat("> quoted line of the old message\n", MaxStripInput/20)
	if got := StripText(big); got != "New text." {
		t.Errorf("cut before the cap: got %d bytes", len(got))
	}
	// No cut inside the cap: the unscanned rest stays.
	plain := strings.Repeat("plain text line\n", MaxStripInput/10)
	if got := StripText(plain); got != plain && got+"\n" != plain {
		t.Errorf("plain text beyond the cap changed: %d -> %d bytes", len(plain), len(got))
	}
}

// reply50KB is a realistic worst case: a short answer above a long thread.
func reply50KB() string {
	var b strings.Builder
	b.WriteString("Thanks, that fixed it.\n\nSent from my iPhone\n\n")
	b.WriteString("On Mon, Nov 23, 2026 at 10:15 AM Helpdesk <reply+abc@help.example.com> wrote:\n")
	for b.Len() < 50<<10 {
		b.WriteString("> Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod.\n")
	}
	return b.String()
}

// reply50KBInline has no cut: every line is examined.
func reply50KBInline() string {
	var b strings.Builder
	for b.Len() < 50<<10 {
		b.WriteString("> What about question number forty-two in the list?\n")
		b.WriteString("Answer: it is covered in section two of the manual.\n")
	}
	return b.String()
}

func BenchmarkStripText50KB(b *testing.B) {
	for _, bc := range []struct {
		name string
		in   string
	}{{"top-posted", reply50KB()}, {"inline", reply50KBInline()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.in)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				StripText(bc.in)
			}
		})
	}
}

func BenchmarkStripHTML50KB(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`<div dir="ltr">Thanks, that fixed it.</div><div class="gmail_quote"><blockquote class="gmail_quote">`)
	for sb.Len() < 50<<10 {
		sb.WriteString("<div>Lorem ipsum dolor sit amet, <b>consectetur</b> adipiscing elit.</div>\n")
	}
	sb.WriteString("</blockquote></div>")
	in := sb.String()
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		StripHTML(in)
	}
}

// BenchmarkStripTextWorst: 256 KiB of one-letter lines, the most lines
// (and line checks) a body within MaxStripInput can have.
func BenchmarkStripTextWorst(b *testing.B) {
	in := strings.Repeat("a\n", MaxStripInput/2)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		StripText(in)
	}
}

// BenchmarkStripTextStartWords: 256 KiB of long lines full of
// attribution start words after sentence ends ("x. On Mon 2026 Bob@a"),
// each a candidate for an attribution that ends the person's line and
// none one: the most work splitTrailingAttributions can be given.
func BenchmarkStripTextStartWords(b *testing.B) {
	line := strings.Repeat("x. On Mon 2026 Bob@a ", 36) + "said:\n"
	in := strings.Repeat(line, MaxStripInput/len(line))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		StripText(in)
	}
}

// BenchmarkStripTextEcho: 256 KiB of a quoted line that holds "sit amet
// consectetur", then short quoted lines each followed by an unquoted
// "sit amet consectetur": every unquoted line repeats the quote far above
// it, so echoesQuote reads back as far as its bounds let it, again and
// again (the worst case of that test).
func BenchmarkStripTextEcho(b *testing.B) {
	head := "> lorem ipsum dolor sit amet consectetur\n"
	pair := "> q\nsit amet consectetur\n"
	in := strings.Repeat(head+strings.Repeat(pair, 95), MaxStripInput/(len(head)+95*len(pair)))
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		StripText(in)
	}
}

// reportCPU adds "cpu-ns/op" to a benchmark: the CPU time the process
// spent (user and system, rusage) per iteration. On a shared machine the
// wall time per op swings with the others' load; the CPU time much less,
// so old and new code compare on it. Use as: defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		}
	}
}
