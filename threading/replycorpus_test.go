package threading

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestReplyCorpus is the differential harness: testdata/replycorpus/NAME/
// holds bodies (CASE.txt) with the reply text another open-source reply
// parser would give for them (CASE.want), one folder per parser's
// conventions: talon (mailgun/talon's extract_from_plain), erp (the
// email_reply_parser family: GitHub's, Zapier's, willdurand's and Crisp's
// visible text) and trimmer (Discourse's email_reply_trimmer). The cases
// are written for deskmail, in its own words, on the shapes those
// parsers' fixtures test. It reports, per corpus, how many come out
// exactly (white space at both ends aside) and how many keep every word
// of the expected reply in order; it fails below minExact or when a word
// is lost.
//
//	go test ./threading -run TestReplyCorpus -v
func TestReplyCorpus(t *testing.T) {
	const minExact = 0.95
	dirs, err := filepath.Glob("testdata/replycorpus/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no corpora: %v", err)
	}
	for _, dir := range dirs {
		ins, _ := filepath.Glob(filepath.Join(dir, "*.txt"))
		if len(ins) == 0 {
			t.Fatalf("%s: no cases", dir)
		}
		sort.Strings(ins)
		exact, words := 0, 0
		for _, in := range ins {
			src, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(in, ".txt") + ".want")
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(StripText(string(src)))
			w := strings.TrimSpace(string(want))
			if got == w {
				exact++
			} else {
				t.Logf("%s: not exact:\n--- got ---\n%s\n--- want ---\n%s", in, got, w)
			}
			if keepsWords(got, w) {
				words++
			} else {
				t.Errorf("%s: words of the reply lost:\n--- got ---\n%s\n--- want ---\n%s", in, got, w)
			}
		}
		rate := float64(exact) / float64(len(ins))
		t.Logf("corpus %s: %d/%d exact (%.0f%%), %d/%d keep every word", filepath.Base(dir), exact, len(ins), 100*rate, words, len(ins))
		if rate < minExact {
			t.Errorf("corpus %s: %.0f%% exact, want at least %.0f%%", filepath.Base(dir), 100*rate, 100*minExact)
		}
	}
}

// keepsWords: the words of want appear in got, in order.
func keepsWords(got, want string) bool {
	g := strings.Fields(got)
	j := 0
	for _, w := range strings.Fields(want) {
		for j < len(g) && g[j] != w {
			j++
		}
		if j == len(g) {
			return false
		}
		j++
	}
	return true
}
