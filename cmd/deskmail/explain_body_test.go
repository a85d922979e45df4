package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestExplainBody: --json says what text would be appended and what was
// cut, for a plain-text and an HTML-only reply.
func TestExplainBody(t *testing.T) {
	cases := []struct {
		name, eml, text, quoted string
	}{
		{"plain", "From: ann@client.test\nTo: support@help.test\nSubject: Re: hi\n\n" +
			"Thanks, it works.\n\nOn Mon, Nov 23, 2026 at 10:15 AM Help <reply+x@help.test> wrote:\n> Does it work?\n",
			"Thanks, it works.", "On Mon, Nov 23, 2026 at 10:15 AM Help <reply+x@help.test> wrote:\n> Does it work?"},
		{"html", "From: ann@client.test\nTo: support@help.test\nSubject: Re: hi\nMIME-Version: 1.0\n" +
			"Content-Type: text/html; charset=utf-8\n\n" +
			`<div>Yes.</div><div id="divRplyFwdMsg"><b>From:</b> Help<br><b>Sent:</b> Monday<br><b>To:</b> Ann<br><b>Subject:</b> hi</div><div>Old text</div>`,
			"Yes.", "From: Help\nSent: Monday\nTo: Ann\nSubject: hi\nOld text"},
		{"nothing quoted", "From: ann@client.test\nTo: support@help.test\nSubject: hi\n\nJust a question.\n",
			"Just a question.", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "m.eml")
			if err := os.WriteFile(f, []byte(tc.eml), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runDeskmail(t, nil, "explain", "--json", f)
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			var got struct {
				Text   *string `json:"text"`
				Quoted *string `json:"quoted"`
			}
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			if got.Text == nil || got.Quoted == nil {
				t.Fatalf("text or quoted missing:\n%s", out)
			}
			if *got.Text != tc.text || *got.Quoted != tc.quoted {
				t.Errorf("text %q quoted %q, want %q and %q", *got.Text, *got.Quoted, tc.text, tc.quoted)
			}
		})
	}
}
