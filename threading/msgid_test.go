package threading

import (
	"encoding/base64"
	"fmt"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestMessageID(t *testing.T) {
	k := testKeyring(t)
	seen := map[string]bool{}
	for range 1000 {
		id := k.MessageID("help.example.com")
		if seen[id] {
			t.Fatalf("duplicate Message-ID %s", id)
		}
		seen[id] = true
	}
	id := k.MessageID("help.example.com")
	// It must parse as a msg-id (dot-atom-text "@" dot-atom-text).
	h := mail.Header{"Message-Id": {"<" + id + ">"}}
	if ids, err := h.AddressList("Message-Id"); err != nil || len(ids) != 1 {
		t.Errorf("Message-ID %q does not parse as an addr-spec: %v", id, err)
	}
	if !strings.HasPrefix(id, "dm1.") || len(id[:strings.IndexByte(id, '@')]) > 64 {
		t.Errorf("unexpected shape %q", id)
	}
	for _, tc := range []struct {
		name string
		id   string
		want bool
	}{
		{"as minted", id, true},
		{"in brackets", "<" + id + ">", true},
		{"uppercased", strings.ToUpper(id), true},
		{"other domain", strings.Replace(id, "help.example.com", "evil.example", 1), false},
		{"altered random", "dm1.a" + id[5:], id[4] == 'a'},
		{"foreign", "CAFoo123@mail.gmail.com", false},
		{"prefix only", "dm1.@x", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := k.IsOwnMessageID(tc.id); got != tc.want {
				t.Errorf("IsOwnMessageID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
	other, _ := NewKeyring([]byte("another secret, also 32 bytes!!!"))
	if other.IsOwnMessageID(id) {
		t.Error("another keyring recognises our Message-ID")
	}
	if err := k.Rotate(); err != nil {
		t.Fatal(err)
	}
	if !k.IsOwnMessageID(id) {
		t.Error("Message-ID not recognised after one rotation")
	}
}

func TestParseMessageIDs(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"one", "<a@b>", []string{"a@b"}},
		{"folded list", "<a@b>\r\n <c@d>\t<e@f>", []string{"a@b", "c@d", "e@f"}},
		{"comments and commas", "<a@b> (Gmail), <c@d>", []string{"a@b", "c@d"}},
		{"no brackets", "a@b c@d", []string{"a@b", "c@d"}},
		{"junk dropped", "<nope> <a@b> <x y@z>", []string{"a@b"}},
		{"unclosed", "<a@b", nil},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := ParseMessageIDs(tc.in)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("ParseMessageIDs(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
	var b strings.Builder
	for i := range 200 {
		fmt.Fprintf(&b, "<%d@x> ", i)
	}
	got := ParseMessageIDs(b.String())
	if len(got) != MaxReferencesScan || got[len(got)-1] != "199@x" {
		t.Errorf("long list: %d IDs ending %q, want the newest %d", len(got), got[len(got)-1], MaxReferencesScan)
	}
}

func TestBuildThreadHeaders(t *testing.T) {
	start := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	first := BuildThreadHeaders(Thread{RootID: "dm1.root@h", Topic: "[#12] Printer", Started: start, Now: start})
	if first.InReplyTo != "<dm1.root@h>" || first.References != "<dm1.root@h>" {
		t.Errorf("first email: %+v", first)
	}
	if first.ThreadTopic != "[#12] Printer" {
		t.Errorf("Thread-Topic %q", first.ThreadTopic)
	}
	var prior []string
	for i := range 30 {
		prior = append(prior, fmt.Sprintf("<m%d@h>", i))
	}
	later := BuildThreadHeaders(Thread{RootID: "<dm1.root@h>", Prior: prior, Topic: "Re: [#12] Printer", Started: start, Now: start.Add(48 * time.Hour)})
	if later.InReplyTo != "<m29@h>" {
		t.Errorf("In-Reply-To %q, want the newest prior", later.InReplyTo)
	}
	refs := ParseMessageIDs(later.References)
	if len(refs) != MaxReferences || refs[0] != "dm1.root@h" || refs[len(refs)-1] != "m29@h" || refs[1] != "m19@h" {
		t.Errorf("References = %v: want root then the newest %d", refs, MaxReferences-1)
	}
	if later.ThreadTopic != "[#12] Printer" {
		t.Errorf("Thread-Topic %q: reply prefix kept", later.ThreadTopic)
	}

	fi, _ := base64.StdEncoding.DecodeString(first.ThreadIndex)
	li, _ := base64.StdEncoding.DecodeString(later.ThreadIndex)
	if len(fi) != 22 || len(li) != 27 {
		t.Fatalf("Thread-Index lengths %d, %d; want 22 and 27", len(fi), len(li))
	}
	if fi[0] != 1 || string(fi) != string(li[:22]) {
		t.Error("Thread-Index header differs between emails of one conversation")
	}
	// 2026 FILETIME starts 0x01 0xDC; real Outlook values start "AQH".
	if !strings.HasPrefix(first.ThreadIndex, "AQH") {
		t.Errorf("Thread-Index %q does not look like Outlook's", first.ThreadIndex)
	}
	// The response level carries 48 h in units of 2^18 ticks, DC = 0.
	lvl := uint64(li[22])<<32 | uint64(li[23])<<24 | uint64(li[24])<<16 | uint64(li[25])<<8 | uint64(li[26])
	if lvl>>39 != 0 {
		t.Error("DC bit set for a 48 h difference")
	}
	gotDelta := time.Duration((lvl>>8)<<18*100) * time.Nanosecond
	if d := gotDelta - 48*time.Hour; d < 0 || d > 2*time.Minute {
		// The header drops the low 24 bits of the start time (~1.7 s) and
		// the level the low 18 bits of the delta (~26 ms).
		t.Errorf("response level delta %v, want about 48h", gotDelta)
	}
	other := BuildThreadHeaders(Thread{RootID: "dm1.other@h", Started: start, Now: start})
	if other.ThreadIndex == first.ThreadIndex {
		t.Error("two conversations share a Thread-Index GUID")
	}
}
