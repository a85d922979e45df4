package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

func TestTermSafe(t *testing.T) {
	for _, c := range []struct{ name, in, table, plain string }{
		{"clean text stays", "Grüße, 日本 ✔", "Grüße, 日本 ✔", "Grüße, 日本 ✔"},
		{"escape sequences", "\x1b]0;pwned\a\x1b[2J", `\x1b]0;pwned\x07\x1b[2J`, `\x1b]0;pwned\x07\x1b[2J`},
		{"DEL and C1", "a\x7fb\u009b2Jc\u0085", `a\x7fb\u009b2Jc\u0085`, `a\x7fb\u009b2Jc\u0085`},
		{"a raw C1 byte", "x\x9b2J", `x\x9b2J`, `x\x9b2J`},
		{"layout", "a\tb\nc\rd", `a\x09b\x0ac\x0dd`, "a\tb\nc\\x0dd"},
		{"U+FFFD itself stays", "\uFFFD", "\uFFFD", "\uFFFD"},
		// Issue 21 review: bidi controls, zero-width and tag characters.
		{"bidi override", "invoice\u202Efdp.exe", `invoice\u202efdp.exe`, `invoice\u202efdp.exe`},
		{"bidi embeddings and isolates", "\u202A\u202B\u202C\u202D\u2066\u2067\u2068\u2069",
			`\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069`, `\u202a\u202b\u202c\u202d\u2066\u2067\u2068\u2069`},
		{"marks and zero width", "a\u200Bb\u061Cc\u200Fd\uFEFF", `a\u200bb\u061cc\u200fd\ufeff`, `a\u200bb\u061cc\u200fd\ufeff`},
		{"tag characters", "x\U000E0041\U000E007F", `x\U000e0041\U000e007f`, `x\U000e0041\U000e007f`},
		{"line separators", "a\u2028b\u2029", `a\u2028b\u2029`, `a\u2028b\u2029`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := cell(c.in); got != c.table {
				t.Errorf("cell(%q) = %q, want %q", c.in, got, c.table)
			}
			if got := termSafe(c.in, true); got != c.plain {
				t.Errorf("termSafe(%q, layout) = %q, want %q", c.in, got, c.plain)
			}
		})
	}
}

// Issue 21, item 11: a subject with terminal escape codes is printed
// escaped by `deskmail log` and `deskmail queue list`, and exactly by
// their --json.
func TestLogAndQueueListEscapeControlCharacters(t *testing.T) {
	const subject = "\u202E\x1b]0;pwned\a\x1b[2JHello\u009b31m"
	dir := t.TempDir()
	db, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := journal.Append(tx, &journal.Entry{Time: now, Direction: journal.In, Status: journal.StatusReceived,
			EnvelopeFrom: "evil\x1b[1m@x.test", Subject: subject}); err != nil {
			return err
		}
		return queue.Enqueue(tx, queue.Job{ID: store.NewID(now), Kind: queue.KindWebhook, Created: now, Subject: subject, Person: "p\x1bq"}, nil)
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"log", "--data", dir}, {"queue", "list", "--data", dir}} {
		out, err := runDeskmail(t, nil, args...)
		if err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
		if strings.ContainsAny(out, "\x1b\a\u009b\u202e") {
			t.Errorf("%v prints control characters raw:\n%q", args, out)
		}
		if !strings.Contains(out, `\u202e\x1b]0;pwned\x07\x1b[2JHello`) {
			t.Errorf("%v does not show the subject escaped:\n%q", args, out)
		}
		out, err = runDeskmail(t, nil, append(args, "--json")...)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Subject string `json:"subject"`
		}
		if args[0] == "queue" {
			var jobs []struct {
				Subject string `json:"subject"`
			}
			err = json.Unmarshal([]byte(out), &jobs)
			if len(jobs) == 1 {
				v.Subject = jobs[0].Subject
			}
		} else {
			err = json.Unmarshal([]byte(out), &v)
		}
		if err != nil || v.Subject != subject {
			t.Errorf("%v --json: subject %q (%v), want it exact", args, v.Subject, err)
		}
	}
}

// FuzzTermSafe: whatever the text, the escaped form has no control
// character but the layout it keeps, is valid UTF-8, and is left alone by
// a second pass.
func FuzzTermSafe(f *testing.F) {
	for _, s := range []string{"", "plain", "\x1b]0;pwned\a\x1b[2J", "a\u009bb\x9bc", "tab\tnew\nline\r", "\xff\xfe\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, keep := range []bool{false, true} {
			out := termSafe(s, keep)
			if !utf8.ValidString(out) {
				t.Fatalf("termSafe(%q, %v) = %q: not UTF-8", s, keep, out)
			}
			for _, r := range out {
				if (r < 0x20 && !(keep && (r == '\n' || r == '\t'))) || r == 0x7f || (r >= 0x80 && r <= 0x9f) ||
					unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp) {
					t.Fatalf("termSafe(%q, %v) = %q keeps %U", s, keep, out, r)
				}
			}
			if again := termSafe(out, keep); again != out {
				t.Fatalf("a second pass changed %q to %q", out, again)
			}
		}
	})
}
