package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/journal"
)

// TestLogMarksUnverified: the plain log says when an email's sender was
// not authenticated (issue 21, item 3); --json has the field.
func TestLogMarksUnverified(t *testing.T) {
	es := []journal.Entry{
		{Time: time.Now(), Direction: journal.In, Status: journal.StatusReceived, EnvelopeFrom: "mallory@evil.test",
			Action: "created conversation c", Unverified: true},
		{Time: time.Now(), Direction: journal.In, Status: journal.StatusReceived, EnvelopeFrom: "ann@client.test",
			Action: "appended to conversation c"},
	}
	var plain, js bytes.Buffer
	newLogPrinter(&plain, false).print(es)
	newLogPrinter(&js, true).print(es)
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) != 3 || !strings.Contains(lines[1], "UNVERIFIED sender; created conversation c") || strings.Contains(lines[2], "UNVERIFIED") {
		t.Errorf("plain log:\n%s", plain.String())
	}
	if strings.Count(js.String(), `"unverified":true`) != 1 {
		t.Errorf("JSON log:\n%s", js.String())
	}
}
