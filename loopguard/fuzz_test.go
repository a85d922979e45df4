package loopguard

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// addCorpus seeds a fuzz test with every testdata/*.eml file, so that the
// seeds run as ordinary tests with every `go test`.
func addCorpus(f *testing.F) {
	files, err := filepath.Glob("testdata/*.eml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

var validClass = map[Class]bool{Human: true, AutoReply: true, Bounce: true, Bulk: true, Looping: true}

// FuzzClassify checks that no input makes the classifier panic (it calls
// classify, without Classify's recover) and that every verdict is
// well-formed, with the default caps and with tiny ones that force the
// fallback paths.
func FuzzClassify(f *testing.F) {
	addCorpus(f)
	guards := []*Guard{
		New(Options{Secrets: corpusSecrets}),
		New(Options{MaxHeaderBytes: 512, MaxParts: 4, MaxDepth: 2}),
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		for _, g := range guards {
			for _, env := range []Envelope{{Offline: true}, {MailFrom: "a@b.example"}, {}} {
				v := g.classify(env, raw)
				if !validClass[v.Class] {
					t.Fatalf("class %q", v.Class)
				}
				if len(v.Reasons) == 0 {
					t.Fatalf("no reasons for %s", v.Class)
				}
				if (v.Bounce != nil) != (v.Class == Bounce) {
					t.Fatalf("bounce report %v on a %s", v.Bounce, v.Class)
				}
				for _, r := range v.Reasons {
					if !utf8.ValidString(r) {
						t.Fatalf("reason is not UTF-8: %q", r)
					}
				}
			}
		}
	})
}

// FuzzParseDSN runs the bounce parsers over arbitrary bytes, both as a
// whole message and as the body of a message/delivery-status part.
func FuzzParseDSN(f *testing.F) {
	addCorpus(f)
	f.Add([]byte("Reporting-MTA: dns; x\n\nFinal-Recipient: rfc822; a@b\nAction: failed\nStatus: 5.1.1\n"))
	g := New(Options{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		if _, rcpts, err := parseDeliveryStatus(raw); err == nil && len(rcpts) == 0 {
			t.Fatal("no error and no recipients")
		}
		m := g.parse(raw)
		if rep := bounceFromReport(m); rep != nil && rep.Format != "rfc3464" {
			t.Fatalf("format %q", rep.Format)
		}
		for _, delayed := range []bool{false, true} {
			rep := legacyBounce(m, delayed)
			if delayed != (rep.Action == "delayed") {
				t.Fatalf("action %q, delayed %v", rep.Action, delayed)
			}
		}
	})
}
