package loopguard

import (
	"os"
	"path/filepath"
	"strings"
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
	// The generated families too: whole provider header sets, bounces of
	// 54 systems, encoded words split anywhere.
	for _, c := range generatedCorpus() {
		f.Add(c.raw)
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

// FuzzDecodeWords checks the RFC 2047 reader: no panic, output bounded by
// the input cap, text without encoded words unchanged.
func FuzzDecodeWords(f *testing.F) {
	for _, s := range []string{
		"=?UTF-8?B?T2Rwb3dpZWTFug==?= =?UTF-8?B?IGF1dG9tYXR5Y3puYQ==?=",
		"=?iso-8859-2?Q?Automatick=E1?=\n =?iso-8859-2?Q?_odpov=ECd=EF?=",
		"=?ISO-2022-JP?B?GyRCPCtGMDFcRXobKEI=?=", "=?utf-8?q?a?==?utf-8?q?b?=", "=?x?B?=?=", "=??Q??=", "plain subject",
		"=?utf-8*en?Q?hi?=", "=?unknown-charset?B?AAAA?=", "=?utf-8?B?////?=",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := decodeWords(s)
		if !strings.Contains(s, "=?") && len(s) <= maxWordsInput && out != s {
			t.Fatalf("%q changed to %q", s, out)
		}
		if len(out) > 8*maxWordsInput+16 {
			t.Fatalf("%d bytes out of %d in", len(out), len(s))
		}
	})
}

// FuzzWords checks the author's-own-text reader over text and HTML
// parts: no panic, valid UTF-8, at most maxWordsScan bytes.
func FuzzWords(f *testing.F) {
	f.Add([]byte("Hello\n> quoted\nOn Mon, Ann wrote:\nrest"), false)
	f.Add([]byte("<html><head><style>x</style></head><body><p>This is an automatic confirmation&nbsp;</p><blockquote>q</blockquote>"), true)
	f.Add([]byte("<a href=\"<<<\"><script>alert(1)</script><p/p>"), true)
	f.Fuzz(func(t *testing.T, body []byte, isHTML bool) {
		mt := "text/plain"
		if isHTML {
			mt = "text/html"
		}
		m := &message{parts: []part{{mediaType: mt, content: body}}}
		w := m.words()
		if !utf8.ValidString(w) {
			t.Fatalf("not UTF-8: %q", w)
		}
		if len(w) > maxWordsScan+4 {
			t.Fatalf("%d bytes, over %d", len(w), maxWordsScan)
		}
	})
}
