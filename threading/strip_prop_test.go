package threading

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// The stripper's three promises, checked on every golden input and on
// bodies spliced at random from their lines (fixed seed, so a failure
// repeats): the output is a subsequence of the input's lines (nothing
// invented, nothing reordered, no line changed), never empty for a body
// with text, and stripping it again changes nothing.

func checkStripProperties(t *testing.T, in string) {
	t.Helper()
	out := StripText(in)
	if hasText(strings.Split(in, "\n")) && !hasText(strings.Split(out, "\n")) {
		t.Fatalf("StripText(%q) is empty", in)
	}
	if !isLineSubsequence(out, in, strings.HasPrefix) {
		t.Fatalf("StripText(%q) = %q: not a subsequence of the input's lines", in, out)
	}
	if again := StripText(out); again != out {
		t.Fatalf("not idempotent on %q:\nonce:  %q\ntwice: %q", in, out, again)
	}
	text, quoted := SplitText(in)
	if text != out {
		t.Fatalf("SplitText text %q != StripText %q", text, out)
	}
	if len(in) <= MaxStripInput && !isLineSubsequence(quoted, in, headOrTail) {
		t.Fatalf("SplitText(%q) quoted %q: not a subsequence of the input's lines", in, quoted)
	}
}

// isLineSubsequence: the non-blank lines of out appear in order among the
// lines of in (each line compared without its "\r"). A line of out may
// also be part of a line of in, as part tells (strings.HasPrefix: the
// text before an attribution that ended the person's last line,
// headOrTail: that attribution, or the text too when it went).
func isLineSubsequence(out, in string, part func(s, p string) bool) bool {
	inLines := strings.Split(in, "\n")
	j := 0
	for _, l := range strings.Split(out, "\n") {
		if t := strings.TrimSpace(l); t == "" || isInvisible(t) {
			continue
		}
		l = strings.TrimRight(l, "\r")
		whole := false
		for j < len(inLines) {
			il := strings.TrimRight(inLines[j], "\r")
			if whole = il == l; whole || (part != nil && part(il, l)) {
				break
			}
			j++
		}
		if j == len(inLines) {
			return false
		}
		if whole {
			j++ // a part leaves the rest of the line to the next
		}
	}
	return true
}

func goldenInputs(t testing.TB, ext string) []string {
	return readInputs(t, "testdata/strip/*"+ext)
}

// readInputs returns the contents of the files pattern matches.
func readInputs(t testing.TB, pattern string) []string {
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestStripProperties(t *testing.T) {
	inputs := goldenInputs(t, ".txt")
	if len(inputs) < 150 {
		t.Fatalf("only %d text inputs", len(inputs))
	}
	// The differential corpora's bodies too (replycorpus_test.go).
	inputs = append(inputs, readInputs(t, "testdata/replycorpus/*/*.txt")...)
	for _, in := range inputs {
		checkStripProperties(t, in)
	}
	// Splice: runs of lines from two or three inputs, so markers, quotes,
	// headers and text meet in orders no client writes.
	var pool [][]string
	for _, in := range inputs {
		pool = append(pool, strings.Split(in, "\n"))
	}
	r := rand.New(rand.NewPCG(14, 2026))
	for range 5000 {
		var b []string
		for range 1 + r.IntN(3) {
			ls := pool[r.IntN(len(pool))]
			from := r.IntN(len(ls))
			to := from + r.IntN(len(ls)-from) + 1
			b = append(b, ls[from:to]...)
		}
		checkStripProperties(t, strings.Join(b, "\n"))
	}
}

func TestStripHTMLProperties(t *testing.T) {
	for _, in := range goldenInputs(t, ".html") {
		checkHTMLProperties(t, in)
		// A body that is all quote comes back whole, its quote marks gone
		// (when in doubt, keep): sent again as plain <div>s it is another
		// body, one with an unmarked original under an attribution, which
		// the text rules may cut. Only bodies the stripper cut are checked.
		if out := StripHTML(in); !keptWhole(in) && StripHTML(htmlEscapeLines(out)) != out {
			t.Errorf("StripHTML not idempotent through HTML on %q", out)
		}
	}
}

// keptWhole: StripHTML found nothing but quotes in in and returned the
// whole text.
func keptWhole(in string) bool {
	doc, err := html.Parse(strings.NewReader(in))
	if err != nil {
		return false
	}
	marked, _ := htmlText(doc, true)
	_, _, ok := splitText(marked, false)
	return !ok
}

// htmlEscapeLines makes a plain-text result an HTML body again, a line per
// <div>, the way a client would send it.
func htmlEscapeLines(s string) string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if l == "" {
			b.WriteString("<div><br></div>")
			continue
		}
		b.WriteString("<div>" + html.EscapeString(l) + "</div>")
	}
	return b.String()
}

// checkHTMLProperties: StripHTML never comes out empty when the body has
// visible text, and every line it returns is a line of the body's text
// (rendered with or without quote marks).
func checkHTMLProperties(t *testing.T, in string) {
	t.Helper()
	out, quoted := SplitHTML(in)
	src := in
	if len(src) > MaxStripHTMLInput {
		src = src[:MaxStripHTMLInput]
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return
	}
	marked, rest := htmlText(doc, true)
	plain, _ := htmlText(doc, false)
	if hasText(strings.Split(plain, "\n")) && !hasText(strings.Split(out, "\n")) {
		t.Fatalf("StripHTML(%q) is empty", in)
	}
	lines := map[string]bool{}
	for _, l := range strings.Split(marked+"\n"+plain, "\n") {
		lines[strings.TrimSuffix(l, "\r")] = true
	}
	for _, l := range strings.Split(strings.TrimSpace(plain), "\n") {
		lines[strings.TrimSpace(l)] = true
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) != "" && !lines[l] && !isPartOfLine(l, marked+"\n"+plain) {
			t.Fatalf("StripHTML(%q) = %q: line %q is not from the body", in, out, l)
		}
	}
	if utf8.ValidString(in) && (!utf8.ValidString(out) || !utf8.ValidString(quoted)) {
		t.Fatalf("StripHTML(%q): invalid UTF-8 out of valid input", in)
	}
	_ = rest
}

// FuzzStripHTML parses arbitrary HTML: never a panic, never empty for a
// body with visible text, never a line that is not the body's.
func FuzzStripHTML(f *testing.F) {
	for _, in := range goldenInputs(f, ".html") {
		f.Add(in)
	}
	f.Add(`<blockquote type="cite"><blockquote type="cite"><div id="divRplyFwdMsg">x</div></blockquote>`)
	f.Add(`<div style="border-top:solid 1pt">From: a</div><pre>  > b` + "\n" + `c</pre>`)
	f.Fuzz(func(t *testing.T, in string) {
		checkHTMLProperties(t, in)
	})
}

// isPartOfLine: l starts a line of text (the person's words before an
// attribution that ended their line).
func isPartOfLine(l, text string) bool {
	for _, tl := range strings.Split(text, "\n") {
		// The head of a line, or the line without the white space that
		// ended the text (nobody's word, cut: "<pre> 0 " gives " 0").
		if strings.HasPrefix(strings.TrimSpace(tl), l) || strings.HasPrefix(strings.TrimRight(tl, " \t\u00a0\r"), l) {
			return true
		}
	}
	return false
}

func headOrTail(s, p string) bool { return strings.HasPrefix(s, p) || strings.HasSuffix(s, p) }
