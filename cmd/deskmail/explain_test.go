package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const corpusDir = "../../loopguard/testdata"

// runDeskmail runs the root command in-process, as the binary would.
func runDeskmail(t *testing.T, stdin []byte, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(bytes.NewReader(stdin))
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

type explainJSON struct {
	Class   string   `json:"class"`
	Notify  *bool    `json:"notify"`
	Reasons []string `json:"reasons"`
	Bounce  *struct {
		Recipient         string `json:"recipient"`
		Status            string `json:"status"`
		Diagnostic        string `json:"diagnostic"`
		OriginalMessageID string `json:"original_message_id"`
		Action            string `json:"action"`
		Kind              string `json:"kind"`
	} `json:"bounce"`
}

func TestExplainJSON(t *testing.T) {
	tests := []struct {
		file, class string
		notify      bool
		recipient   string
	}{
		{"24-postfix-dsn-user-unknown.eml", "bounce", false, "old.contact@customer-one.example"},
		{"01-gmail-vacation.eml", "auto_reply", false, ""},
		{"19-mailman-announcement.eml", "bulk", false, ""},
		{"48-too-many-received.eml", "looping", false, ""},
		{"34-human-gmail-plain.eml", "human", true, ""},
		{"46-binary-junk.eml", "human", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			out, err := runDeskmail(t, nil, "explain", "--json", filepath.Join(corpusDir, tc.file))
			if err != nil {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			var got explainJSON
			dec := json.NewDecoder(strings.NewReader(out))
			if err := dec.Decode(&got); err != nil {
				t.Fatalf("not JSON: %v\n%s", err, out)
			}
			if dec.More() {
				t.Errorf("more than one JSON value:\n%s", out)
			}
			if got.Class != tc.class || got.Notify == nil || *got.Notify != tc.notify || len(got.Reasons) == 0 {
				t.Errorf("got %s", out)
			}
			if (got.Bounce != nil) != (tc.recipient != "") {
				t.Fatalf("bounce object: %s", out)
			}
			if got.Bounce != nil && (got.Bounce.Recipient != tc.recipient || got.Bounce.Status == "" || got.Bounce.OriginalMessageID == "" || got.Bounce.Kind != "permanent") {
				t.Errorf("bounce: %+v", *got.Bounce)
			}
		})
	}
}

func TestExplainText(t *testing.T) {
	out, err := runDeskmail(t, nil, "explain", filepath.Join(corpusDir, "29-qmail-bounce.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"class:   bounce", "notify:  false", "recipient:           bob@oldschool.example", "kind:                permanent", "dm.c2001.m84000@help.acme-support.example"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestExplainStdinAndEnvelope(t *testing.T) {
	raw := []byte("From: a@example.org\nSubject: hi\n\nhello\n")
	out, err := runDeskmail(t, raw, "explain", "--json", "--mail-from", "", "--rcpt", "support@acme.example", "-")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"class": "bounce"`) {
		t.Errorf("null --mail-from should make a bare message a bounce:\n%s", out)
	}
	out, err = runDeskmail(t, raw, "explain", "--json", "--mail-from", "a@example.org", "-")
	if err != nil || !strings.Contains(out, `"class": "human"`) {
		t.Errorf("err %v:\n%s", err, out)
	}
}

func TestExplainUnreadable(t *testing.T) {
	if _, err := runDeskmail(t, nil, "explain", filepath.Join(t.TempDir(), "missing.eml")); err == nil {
		t.Error("missing file: no error")
	}
	dir := t.TempDir()
	if _, err := runDeskmail(t, nil, "explain", dir); err == nil {
		t.Error("a directory: no error")
	}
	empty := filepath.Join(t.TempDir(), "empty.eml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runDeskmail(t, nil, "explain", empty); err != nil || !strings.Contains(out, "class:") {
		t.Errorf("empty file must still get a verdict: %v\n%s", err, out)
	}
}
