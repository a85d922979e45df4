package loopguard

import (
	"sort"
	"strings"
	"testing"
)

// TestGeneratedCorpus classifies every generated case: its class, its
// bounce kind, and that a bounce names the email it refers to.
func TestGeneratedCorpus(t *testing.T) {
	g := corpusGuard()
	for _, c := range generatedCorpus() {
		t.Run(c.name, func(t *testing.T) {
			v := g.Classify(c.env, c.raw)
			if v.Class != c.class {
				t.Fatalf("class = %s, want %s; reasons:\n  %s", v.Class, c.class, strings.Join(v.Reasons, "\n  "))
			}
			if v.Class != Bounce {
				return
			}
			if c.kind != "" && v.Bounce.Kind != c.kind {
				t.Errorf("kind = %q, want %q (%+v)", v.Bounce.Kind, c.kind, *v.Bounce)
			}
			if c.origID != "" && v.Bounce.OriginalMessageID != c.origID {
				t.Errorf("original = %q, want %q", v.Bounce.OriginalMessageID, c.origID)
			}
			if c.kind != "" && c.kind != KindUnknown && v.Bounce.Recipient != bouncedTo {
				t.Errorf("recipient = %q, want %q", v.Bounce.Recipient, bouncedTo)
			}
		})
	}
}

// TestCorpusSize keeps the corpus at its size: at least 400 cases, 150
// of them people's, and logs the count by class and family.
func TestCorpusSize(t *testing.T) {
	byClass := map[Class]int{}
	byFamily := map[string]int{}
	for _, tc := range corpus {
		byClass[tc.class]++
		byFamily["files/"+string(tc.class)]++
	}
	for _, c := range generatedCorpus() {
		byClass[c.class]++
		byFamily[c.family[:strings.IndexByte(c.family+"/", '/')]+"/"+strings.SplitN(c.family, "/", 2)[1]]++
	}
	total := 0
	for _, n := range byClass {
		total += n
	}
	if total < 400 || byClass[Human] < 150 {
		t.Errorf("corpus has %d cases, %d human; want at least 400 and 150", total, byClass[Human])
	}
	var fams []string
	for f, n := range byFamily {
		fams = append(fams, f+"="+itoa(n))
	}
	sort.Strings(fams)
	t.Logf("corpus: %d cases: %v", total, byClass)
	t.Logf("families (%d): %s", len(fams), strings.Join(fams, " "))
}

func itoa(n int) string {
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}
