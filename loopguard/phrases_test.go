package loopguard

import (
	"math/rand"
	"strings"
	"testing"
)

// naiveFirst is what the automaton replaces: each phrase with its own
// strings.Contains, the first in the table's order that occurs.
func naiveFirst(s string, phrases []string) string {
	for _, p := range phrases {
		if p != "" && strings.Contains(s, p) {
			return p
		}
	}
	return ""
}

// checkPhrases compares the automaton with the naive search on s, for
// every table of both sets.
func checkPhrases(t *testing.T, s string) {
	t.Helper()
	for _, ps := range []*phraseSet{bodyPhrases, subjectPhrases} {
		h := ps.scan(s)
		for i, tab := range ps.tables {
			if got, want := h.first(i), naiveFirst(s, tab); got != want {
				t.Fatalf("table %d in %q: automaton %q, strings.Contains %q", i, s, got, want)
			}
			var want []string
			for _, p := range tab {
				if p != "" && strings.Contains(s, p) {
					want = append(want, p)
				}
			}
			if got := h.all(i); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("table %d in %q: all %q, want %q", i, s, got, want)
			}
		}
	}
}

// TestPhrasesMatchNaive builds texts from pieces of the phrases (so that
// partial matches, overlaps and suffixes shared between phrases occur) and
// from the whole corpus, and checks the automaton against strings.Contains.
func TestPhrasesMatchNaive(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	var pool []string
	for _, ps := range []*phraseSet{bodyPhrases, subjectPhrases} {
		for _, tab := range ps.tables {
			pool = append(pool, tab...)
		}
	}
	for n := 0; n < 3000; n++ {
		var b strings.Builder
		for k := rnd.Intn(6); k >= 0; k-- {
			p := pool[rnd.Intn(len(pool))]
			if len(p) > 2 && rnd.Intn(2) == 0 {
				i := rnd.Intn(len(p))
				j := i + rnd.Intn(len(p)-i) + 1
				p = p[i:j]
			}
			b.WriteString(p)
			if rnd.Intn(3) == 0 {
				b.WriteByte(' ')
			}
		}
		checkPhrases(t, b.String())
	}
	for _, c := range allCases(t) {
		m := corpusGuard().parse(c.raw)
		checkPhrases(t, m.words())
		checkPhrases(t, newSubject(rawSubject(m)).text)
	}
}

func TestAutomatonOverlaps(t *testing.T) {
	a := newAutomaton([]string{"he", "she", "his", "hers", "", "s"})
	var got []int32
	a.scan("ushers", func(id int32) { got = append(got, id) })
	// "ushers": s(2) she(3), he(3), s(4)... ids: she=1, he=0, s=5, hers=3
	count := map[int32]int{}
	for _, id := range got {
		count[id]++
	}
	if count[0] != 1 || count[1] != 1 || count[3] != 1 || count[5] != 2 || count[2] != 0 {
		t.Errorf("matches %v", count)
	}
}

// FuzzPhrases checks the automaton against strings.Contains on any text.
func FuzzPhrases(f *testing.F) {
	f.Add("this is an automated message, please do not reply")
	f.Add("undeliverable: user unknown")
	f.Add("自动回复：我正在休假")
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			s = s[:4096]
		}
		checkPhrases(t, s)
	})
}

// BenchmarkPhrases compares one pass of the automaton over the author's
// own words of every corpus case with a strings.Contains per phrase of
// every table, as findAny did:
//
//	go test -run '^$' -bench Phrases ./loopguard
func BenchmarkPhrases(b *testing.B) {
	var texts []string
	for _, c := range allCases(b) {
		texts = append(texts, corpusGuard().parse(c.raw).words())
	}
	b.Run("automaton", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			h := bodyPhrases.scan(texts[i%len(texts)])
			for t := range bodyPhrases.tables {
				h.first(t)
			}
		}
	})
	b.Run("contains", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			for _, tab := range bodyPhrases.tables {
				naiveFirst(texts[i%len(texts)], tab)
			}
		}
	})
}

// TestDFASameAsFailLinks compares the dense table's scan with the walk of
// the sparse edges and fail links it replaced (scanBitsSparse, kept as
// the fallback of a too large automaton), bit for bit, on random bytes,
// texts of phrase pieces with any byte between, and every corpus case's
// own words and subject.
func TestDFASameAsFailLinks(t *testing.T) {
	sets := []*phraseSet{bodyPhrases, subjectPhrases}
	for i, ps := range sets {
		if ps.ac.dfa == nil {
			t.Fatalf("phrase set %d has no dense table (%d nodes)", i, len(ps.ac.nodes))
		}
	}
	check := func(s string) {
		t.Helper()
		for i, ps := range sets {
			a := ps.ac
			dense := make([]uint64, (a.npats+63)/64)
			sparse := make([]uint64, (a.npats+63)/64)
			a.scanBits(s, dense)
			a.scanBitsSparse(s, sparse)
			for w := range dense {
				if dense[w] != sparse[w] {
					t.Fatalf("set %d, text %q: word %d dense %x, fail links %x", i, s, w, dense[w], sparse[w])
				}
			}
		}
	}
	rnd := rand.New(rand.NewSource(27))
	var pool []string
	for _, ps := range sets {
		for _, tab := range ps.tables {
			pool = append(pool, tab...)
		}
	}
	for n := 0; n < 5000; n++ {
		var b strings.Builder
		for k := rnd.Intn(8); k >= 0; k-- {
			switch rnd.Intn(4) {
			case 0:
				for j := rnd.Intn(6); j >= 0; j-- {
					b.WriteByte(byte(rnd.Intn(256)))
				}
			default:
				p := pool[rnd.Intn(len(pool))]
				if len(p) > 2 && rnd.Intn(2) == 0 {
					i := rnd.Intn(len(p))
					p = p[i : i+rnd.Intn(len(p)-i)+1]
				}
				b.WriteString(p)
			}
		}
		check(b.String())
	}
	for _, c := range allCases(t) {
		m := corpusGuard().parse(c.raw)
		check(m.words())
		check(newSubject(rawSubject(m)).text)
		check(string(c.raw))
	}
}
