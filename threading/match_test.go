package threading

import (
	"errors"
	"strings"
	"testing"
)

// fakeIndex is an in-memory Index; the real one lives in store.
type fakeIndex struct {
	byMsgID   map[string]string
	byTag     map[string]string
	people    map[string]string          // lowercase address -> person
	followers map[string]map[string]bool // conv -> person -> follows
	err       error
}

func (f *fakeIndex) ConversationByMessageID(id string) (string, bool, error) {
	if f.err != nil {
		return "", false, f.err
	}
	c, ok := f.byMsgID[id]
	return c, ok, nil
}

func (f *fakeIndex) ConversationByTag(tag string) (string, bool, error) {
	c, ok := f.byTag[tag]
	return c, ok, nil
}

func (f *fakeIndex) PersonByEmail(addr string) (string, bool, error) {
	p, ok := f.people[strings.ToLower(addr)]
	return p, ok, nil
}

func (f *fakeIndex) Follows(person, conv string) (bool, error) {
	return f.followers[conv][person], nil
}

func TestMatch(t *testing.T) {
	k := testKeyring(t)
	forger, _ := NewKeyring([]byte("another secret, also 32 bytes!!!"))
	const dom = "help.example.com"
	tokX, _ := k.ReplyAddress("convX", "alice", dom)
	tokY, _ := k.ReplyAddress("convY", "bob", dom)
	forged, _ := forger.ReplyAddress("convY", "alice", dom)
	idx := &fakeIndex{
		byMsgID: map[string]string{"m1@help.example.com": "convX", "m2@help.example.com": "convY", "root@h": "convX"},
		byTag:   map[string]string{"1234": "convX", "99": "convY"},
		people:  map[string]string{"alice@customer.example": "alice", "bob@other.example": "bob"},
		followers: map[string]map[string]bool{
			"convX": {"alice": true},
			"convY": {"bob": true},
		},
	}
	m := &Matcher{Tokens: k, Index: idx, ReplyDomains: []string{dom}, SupportAddresses: []string{"support@help.example.com"}}

	for _, tc := range []struct {
		name       string
		in         Inbound
		conv       string
		method     Method
		reasonHint string
	}{
		{
			name: "token in envelope", conv: "convX", method: MethodToken,
			in: Inbound{EnvelopeTo: []string{tokX}, From: "alice@customer.example"},
		},
		{
			name: "token lowercased by an MTA", conv: "convX", method: MethodToken,
			in: Inbound{EnvelopeTo: []string{strings.ToLower(tokX)}},
		},
		{
			name: "token only in Cc", conv: "convX", method: MethodToken,
			in: Inbound{EnvelopeTo: []string{"support@help.example.com"}, To: []string{"someone@else.example"}, Cc: []string{"<" + tokX + ">"}},
		},
		{
			name: "envelope token wins over To token", conv: "convY", method: MethodToken,
			in: Inbound{EnvelopeTo: []string{tokY}, To: []string{tokX}},
		},
		{
			name: "token for X beats References to Y", conv: "convX", method: MethodToken,
			in: Inbound{EnvelopeTo: []string{tokX}, InReplyTo: []string{"m2@help.example.com"}, References: []string{"m2@help.example.com"}},
		},
		{
			name: "forged token is skipped, falls to new", conv: "", method: MethodNew, reasonHint: "signature does not match",
			in: Inbound{EnvelopeTo: []string{forged}, To: []string{"support@help.example.com"}, Subject: "[#99] let me in", From: "alice@customer.example"},
		},
		{
			name: "forged token alone matches nothing", conv: "", method: MethodNone, reasonHint: "signature does not match",
			in: Inbound{EnvelopeTo: []string{forged}},
		},
		{
			name: "forged token then valid one", conv: "convX", method: MethodToken, reasonHint: "rejected",
			in: Inbound{EnvelopeTo: []string{forged, tokX}},
		},
		{
			name: "in-reply-to", conv: "convY", method: MethodInReplyTo,
			in: Inbound{EnvelopeTo: []string{"support@help.example.com"}, InReplyTo: []string{"m2@help.example.com"}, References: []string{"m1@help.example.com"}},
		},
		{
			name: "references newest first", conv: "convY", method: MethodReferences,
			in: Inbound{InReplyTo: []string{"unknown@gmail.com"}, References: []string{"m1@help.example.com", "m2@help.example.com", "unknown2@gmail.com"}},
		},
		{
			name: "references in brackets", conv: "convX", method: MethodReferences,
			in: Inbound{References: []string{"<root@h>"}},
		},
		{
			name: "subject tag from a follower", conv: "convX", method: MethodSubjectTag,
			in: Inbound{To: []string{"support@help.example.com"}, From: "Alice@Customer.Example", Subject: "Re: [#1234] printer"},
		},
		{
			name: "subject tag from a non-follower is ignored", conv: "", method: MethodNew, reasonHint: "does not follow",
			in: Inbound{To: []string{"support@help.example.com"}, From: "alice@customer.example", Subject: "[#99] printer"},
		},
		{
			name: "subject tag from a stranger is ignored", conv: "", method: MethodNew, reasonHint: "unknown",
			in: Inbound{To: []string{"support@help.example.com"}, From: "mallory@evil.example", Subject: "[#1234] hi"},
		},
		{
			name: "unknown subject tag", conv: "", method: MethodNew, reasonHint: "names no conversation",
			in: Inbound{To: []string{"SUPPORT@help.example.com"}, From: "alice@customer.example", Subject: "[#5] hi"},
		},
		{
			name: "new conversation", conv: "", method: MethodNew,
			in: Inbound{EnvelopeTo: []string{"support@help.example.com"}, From: "new@customer.example", Subject: "Hello"},
		},
		{
			name: "nothing matches", conv: "", method: MethodNone,
			in: Inbound{EnvelopeTo: []string{"sales@help.example.com"}, From: "new@customer.example"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := m.Match(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got.Conversation != tc.conv || got.Method != tc.method {
				t.Errorf("Match = %q by %q, want %q by %q (reason: %s)", got.Conversation, got.Method, tc.conv, tc.method, got.Reason)
			}
			if tc.reasonHint != "" && !strings.Contains(got.Reason, tc.reasonHint) {
				t.Errorf("reason %q does not mention %q", got.Reason, tc.reasonHint)
			}
			if (got.Method == MethodToken) != (got.Token != nil) {
				t.Errorf("Token = %v for method %s", got.Token, got.Method)
			}
		})
	}
}

func TestMatchTokenCarriesRecipient(t *testing.T) {
	k := testKeyring(t)
	addr, _ := k.ReplyAddress("convX", "alice", "h.example")
	m := &Matcher{Tokens: k, Index: &fakeIndex{}, ReplyDomains: []string{"h.example"}}
	got, err := m.Match(Inbound{EnvelopeTo: []string{addr}, From: "mallory@evil.example"})
	if err != nil {
		t.Fatal(err)
	}
	// Match does not judge the sender; the caller compares Token.Recipient
	// with the sender's person and quarantines on a mismatch.
	if got.Token == nil || got.Token.Recipient != "alice" {
		t.Errorf("token = %+v, want recipient alice", got.Token)
	}
}

func TestMatchIndexError(t *testing.T) {
	boom := errors.New("bolt: database not open")
	m := &Matcher{Tokens: testKeyring(t), Index: &fakeIndex{err: boom}}
	_, err := m.Match(Inbound{References: []string{"a@b"}})
	if !errors.Is(err, boom) {
		t.Errorf("err = %v, want the index error wrapped", err)
	}
}
