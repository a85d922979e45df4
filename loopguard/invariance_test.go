package loopguard

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// A case of the whole corpus: the files of testdata/ and the generated
// families of corpus_gen_test.go, with the envelope each is classified
// with.
type anyCase struct {
	name  string
	raw   []byte
	env   Envelope
	class Class
}

func allCases(t testing.TB) []anyCase {
	var out []anyCase
	for _, tc := range corpus {
		out = append(out, anyCase{tc.file, readCorpus(t, tc.file), Envelope{Offline: true}, tc.class})
	}
	for _, gc := range generatedCorpus() {
		out = append(out, anyCase{gc.name, gc.raw, gc.env, gc.class})
	}
	return out
}

// cleanHeader tells whether the top-level header of raw reads without a
// note (no damage, no cap): the cases a header edit can be applied to
// without changing what is read.
func cleanHeader(raw []byte) bool {
	_, _, notes := readHeader(raw, DefaultMaxHeaderBytes)
	return len(notes) == 0
}

// withFields puts fields at the top of raw's header, as a relay on the
// way does, in raw's line ending.
func withFields(raw []byte, fields ...string) []byte {
	nl := "\n"
	if bytes.Contains(raw[:min(len(raw), 2048)], []byte("\r\n")) {
		nl = "\r\n"
	}
	var b bytes.Buffer
	rest := raw
	if bytes.HasPrefix(raw, []byte("From ")) {
		line, r := cutLine(raw)
		b.Write(line)
		rest = r
	}
	for _, f := range fields {
		b.WriteString(strings.ReplaceAll(f, "\n", nl))
		b.WriteString(nl)
	}
	b.Write(rest)
	return b.Bytes()
}

func TestCatalogueSize(t *testing.T) {
	names := map[string]bool{}
	for _, fs := range transportFields {
		for _, f := range fs {
			names[strings.ToLower(f[:strings.IndexByte(f, ':')])] = true
		}
	}
	if len(names) < 150 {
		t.Errorf("catalogue has %d distinct field names, want at least 150", len(names))
	}
	t.Logf("%d distinct field names from %d systems", len(names), len(transportFields))
}

// TestInvariance adds each field of the catalogue, then each system's
// whole set, to every case: a person's mail stays human, automatic mail
// never becomes human.
func TestInvariance(t *testing.T) {
	g := corpusGuard()
	systems := make([]string, 0, len(transportFields))
	for s := range transportFields {
		systems = append(systems, s)
	}
	sort.Strings(systems)
	cases := allCases(t)
	if testing.Short() {
		cases = cases[:len(cases)/4]
	}
	for _, c := range cases {
		if c.class == Looping || !cleanHeader(c.raw) {
			// A looping case is decided by counting Received fields or
			// its own marker; damaged headers read differently once
			// edited.
			continue
		}
		base := g.Classify(c.env, c.raw).Class
		if base != c.class {
			continue // TestCorpus reports it
		}
		check := func(what string, raw []byte) {
			v := g.Classify(c.env, raw)
			switch {
			case c.class == Human && v.Class != Human:
				t.Errorf("%s: human became %s with %s:\n  %s", c.name, v.Class, what, strings.Join(v.Reasons, "\n  "))
			case c.class != Human && v.Class == Human:
				t.Errorf("%s: %s became human with %s:\n  %s", c.name, c.class, what, strings.Join(v.Reasons, "\n  "))
			}
		}
		for _, s := range systems {
			for _, f := range transportFields[s] {
				check(f[:min(len(f), 60)], withFields(c.raw, f))
			}
			check("the whole "+s+" set", withFields(c.raw, transportFields[s]...))
		}
	}
}

// TestSubjectInvariance gives a person's message the subjects of
// people's questions about automatic mail, with and without each
// system's set of fields: it stays human.
func TestSubjectInvariance(t *testing.T) {
	g := corpusGuard()
	bodies := []string{
		"Hello,\n\nhow do I switch this off? Our customers keep getting it.\n\nThanks, Maria\n",
		"Hi team,\n\nI wrote to you yesterday and I am not sure my message arrived.\nCan you check?\n\nBest regards\nTom\n",
		"Guten Tag,\n\nich habe eine Frage zu meiner Rechnung.\n\nMit freundlichen Grüßen\nAnna Schmidt\n",
	}
	for _, subj := range transportSubjectsHuman {
		for i, body := range bodies {
			raw := []byte("From: Maria Rossi <maria.rossi@customer.example>\nTo: support@acme.example\nSubject: " + subj +
				"\nDate: Mon, 1 Dec 2026 09:12:40 +0000\nMessage-ID: <q" + fmt.Sprint(i) + "@customer.example>\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body)
			env := Envelope{MailFrom: "maria.rossi@customer.example"}
			if v := g.Classify(env, raw); v.Class != Human {
				t.Errorf("subject %q, body %d: %s:\n  %s", subj, i, v.Class, strings.Join(v.Reasons, "\n  "))
			}
			for s, fs := range transportFields {
				if v := g.Classify(env, withFields(raw, fs...)); v.Class != Human {
					t.Errorf("subject %q, body %d with the %s set: %s:\n  %s", subj, i, s, v.Class, strings.Join(v.Reasons, "\n  "))
				}
			}
		}
	}
}

// TestHeaderProperties re-folds the header, reorders independent fields
// and changes Message-ID and Date: no class changes.
func TestHeaderProperties(t *testing.T) {
	g := corpusGuard()
	rnd := rand.New(rand.NewSource(19))
	for _, c := range allCases(t) {
		if !cleanHeader(c.raw) {
			continue
		}
		want := g.Classify(c.env, c.raw)
		for round := 0; round < 3; round++ {
			if round == 2 && bytes.Contains(c.raw, []byte(MarkerHeader)) {
				// The own-mail marker is an HMAC of the Message-ID:
				// changing it must stop the marker from verifying.
				continue
			}
			raw := mutateHeader(c.raw, rnd, round)
			v := g.Classify(c.env, raw)
			if v.Class != want.Class {
				t.Errorf("%s, mutation %d: %s became %s:\n  %s\n--- header:\n%s", c.name, round, want.Class, v.Class,
					strings.Join(v.Reasons, "\n  "), headerOf(raw))
			}
			if want.Bounce != nil && v.Bounce != nil && want.Bounce.Kind != v.Bounce.Kind {
				t.Errorf("%s, mutation %d: kind %s became %s", c.name, round, want.Bounce.Kind, v.Bounce.Kind)
			}
		}
	}
}

func headerOf(raw []byte) string {
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return string(raw[:i])
	}
	return string(raw[:min(len(raw), 2000)])
}

// mutateHeader rewrites the top-level header of raw: round 0 re-folds
// every long field, round 1 shuffles the fields (keeping the order of
// fields of one name, such as Received), round 2 gives it a new
// Message-ID and Date; the body is unchanged.
func mutateHeader(raw []byte, rnd *rand.Rand, round int) []byte {
	nl := "\n"
	if bytes.Contains(raw[:min(len(raw), 2048)], []byte("\r\n")) {
		nl = "\r\n"
	}
	var prefix []byte
	rest := raw
	if bytes.HasPrefix(raw, []byte("From ")) {
		line, r := cutLine(raw)
		prefix, rest = line, r
	}
	// Split the header into raw fields (a field with its continuation
	// lines), keeping their exact text.
	var fields [][]byte
	for len(rest) > 0 {
		line, r := cutLine(rest)
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			break
		}
		if (line[0] == ' ' || line[0] == '\t') && len(fields) > 0 {
			fields[len(fields)-1] = append(fields[len(fields)-1], line...)
		} else {
			fields = append(fields, append([]byte(nil), line...))
		}
		rest = r
	}
	body := rest
	name := func(f []byte) string {
		return strings.ToLower(string(f[:max(0, bytes.IndexByte(f, ':'))]))
	}
	switch round {
	case 0:
		for i, f := range fields {
			fields[i] = refold(f, nl)
		}
	case 1:
		// Shuffle, then put the fields of each name back in their
		// original relative order.
		byName := map[string][][]byte{}
		for _, f := range fields {
			byName[name(f)] = append(byName[name(f)], f)
		}
		perm := rnd.Perm(len(fields))
		shuffled := make([][]byte, len(fields))
		for i, p := range perm {
			shuffled[i] = fields[p]
		}
		used := map[string]int{}
		for i, f := range shuffled {
			n := name(f)
			shuffled[i] = byName[n][used[n]]
			used[n]++
		}
		fields = shuffled
	case 2:
		for i, f := range fields {
			switch name(f) {
			case "message-id":
				fields[i] = []byte(fmt.Sprintf("Message-ID: <changed.%d@mutated.example>%s", rnd.Int63(), nl))
			case "date":
				fields[i] = []byte("Date: Tue, 02 Dec 2026 17:45:03 +0100" + nl)
			}
		}
	}
	var b bytes.Buffer
	b.Write(prefix)
	for _, f := range fields {
		b.Write(f)
	}
	b.Write(body)
	return b.Bytes()
}

// refold unfolds a field and folds it again at every white space after
// column 30, the way another relay's line length would.
func refold(f []byte, nl string) []byte {
	s := strings.TrimRight(string(f), "\r\n")
	s = strings.NewReplacer("\r\n\t", " ", "\r\n ", " ", "\n\t", " ", "\n ", " ").Replace(s)
	colon := strings.IndexByte(s, ':')
	if colon < 0 || len(s) < 40 {
		return []byte(s + nl)
	}
	var b strings.Builder
	col := 0
	for i, w := range strings.Split(s, " ") {
		if i > 0 {
			if col > 30 && i > 1 {
				b.WriteString(nl + "\t")
				col = 1
			} else {
				b.WriteByte(' ')
				col++
			}
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString(nl)
	return []byte(b.String())
}

// TestLineEndings: the same message with LF, CRLF or the bare CR of old
// Mac mailers (as public bounce collections keep them) has one class.
func TestLineEndings(t *testing.T) {
	g := corpusGuard()
	for _, c := range allCases(t) {
		if !cleanHeader(c.raw) || bytes.IndexByte(c.raw, 0) >= 0 || bytes.Contains(c.raw, []byte("\r\r")) {
			continue
		}
		lf := bytes.ReplaceAll(c.raw, []byte("\r\n"), []byte("\n"))
		if bytes.IndexByte(lf, '\r') >= 0 {
			continue // a bare CR inside a line of the case itself
		}
		want := g.Classify(c.env, lf).Class
		for _, v := range []struct {
			name string
			raw  []byte
		}{
			{"CRLF", bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n"))},
			{"CR", bytes.ReplaceAll(lf, []byte("\n"), []byte("\r"))},
		} {
			if got := g.Classify(c.env, v.raw).Class; got != want {
				t.Errorf("%s with %s line ends: %s, with LF %s", c.name, v.name, got, want)
			}
		}
	}
}
