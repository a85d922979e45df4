package threading

import (
	"strings"
	"testing"
)

// With Describe, Reason names the token's recipient as the caller writes
// people (for the log); without it, the id.
func TestMatchReasonDescribesPeople(t *testing.T) {
	k := testKeyring(t)
	addr, _ := k.ReplyAddress("convX", "alice", "h.example")
	in := Inbound{EnvelopeTo: []string{addr}, From: "alice@client.example"}
	m := &Matcher{Tokens: k, Index: &fakeIndex{}, ReplyDomains: []string{"h.example"}}
	got, err := m.Match(in)
	if err != nil || !strings.Contains(got.Reason, "recipient alice (") {
		t.Fatalf("without Describe: %q %v", got.Reason, err)
	}
	m.Describe = func(id string) string { return "Alice Doe <alice@client.example>" }
	got, err = m.Match(in)
	if err != nil || !strings.Contains(got.Reason, "recipient Alice Doe <alice@client.example> (") {
		t.Errorf("with Describe: %q %v", got.Reason, err)
	}
}
