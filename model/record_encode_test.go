package model

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/jsonrec/jsonrectest"
	"github.com/deskmail/deskmail/notify"
)

// TestRecordEncodeSameAsJSONMarshal: encodeRecord writes json.Marshal's
// bytes for people, conversations and messages (by value and by
// pointer) and notifications (by value), and fails where it fails (an enum MarshalText refuses, a
// year past 9999), on generated records with strings that need every
// escape and with broken UTF-8.
func TestRecordEncodeSameAsJSONMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 5))
	times := append(recordTimes(rng), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC))
	str := func() string {
		if rng.IntN(4) != 0 {
			return pickString(rng)
		}
		b := make([]byte, rng.IntN(8))
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return string(b)
	}
	list := func() []string {
		l := pickList(rng)
		for i := range l {
			l[i] = str()
		}
		return l
	}
	tm := func() time.Time { return times[rng.IntN(len(times))] }
	ptm := func() *time.Time {
		if rng.IntN(2) == 0 {
			return nil
		}
		t := tm()
		return &t
	}
	check := func(v any) {
		t.Helper()
		want, werr := json.Marshal(v)
		got, gerr := encodeRecord(v)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodeRecord(%+v)\n got %s (%v)\nwant %s (%v)", v, got, gerr, want, werr)
		}
	}
	for range 5000 {
		p := Person{ID: str(), Kind: pickEnum(rng, notify.KindUser, notify.KindCustomer, notify.KindBot),
			Name: str(), Emails: list(), Created: tm(), Unverified: rng.IntN(2) == 0,
			Settings: notify.Settings{Visibility: pickEnum(rng, notify.VisibilityFollowedProjects, notify.VisibilityAllProjects),
				ShowFromCustomers: rng.IntN(2) == 0,
				FromCustomers:     pickEnum(rng, notify.FromCustomersMine, notify.FromCustomersAll, notify.FromCustomersNone),
				FromUsers:         pickEnum(rng, notify.FromUsersFollowed, notify.FromUsersAll, notify.FromUsersNone),
				FollowedInternal:  rng.IntN(2) == 0, AssignmentChanges: rng.IntN(2) == 0, NewMembers: rng.IntN(2) == 0,
				AcceptInvitations: rng.IntN(2) == 0}}
		check(p)
		check(&p)
		c := Conversation{ID: str(), Item: str(), Kind: str(), Subject: str(), Followers: list(), Tag: str(),
			RootID: str(), Created: tm(), OpenedUnverified: str(), AgentWrote: ptm()}
		check(c)
		check(&c)
		m := Message{ID: str(), Conversation: str(), Author: str(), Channel: str(), Text: str(), HTML: str(),
			Original: str(), MessageID: str(), Created: tm(), Retracted: ptm(), Unverified: rng.IntN(2) == 0,
			Verification: str(), Outsider: rng.IntN(2) == 0, EmailTo: list()}
		switch rng.IntN(3) {
		case 0:
			m.Attachments = []Attachment{}
		case 1:
			m.Attachments = []Attachment{{Name: str(), ContentType: str(), Size: rng.Int64() - rng.Int64(), Part: rng.IntN(9) - 1},
				{Name: str(), Size: 0}}
		}
		if rng.IntN(8) == 0 {
			m.Text = "Hello, I have a question about my order.\n" + str()
		}
		check(&m)
		check(m) // by value: json.Marshal's own
		check(Notification{Person: str(), Message: str(), Conversation: str(), Reason: str(), Created: tm(), Seen: ptm()})
	}
	check(&Project{ID: "p", Followers: nil})
}

// BenchmarkRecordEncode writes the person, conversation and message of an
// email of `deskmail bench pipeline`, by encodeRecord and by json.Marshal.
func BenchmarkRecordEncode(b *testing.B) {
	at := time.Date(2026, 12, 7, 11, 15, 22, 123456789, time.UTC)
	p := Person{ID: "p0000018f3c2a1b", Kind: notify.KindCustomer, Name: "Customer 1", Emails: []string{"cust1@c1-x.bench"},
		Settings: notify.DefaultSettings(), Created: at, Unverified: true}
	c := &Conversation{ID: "c0000018f3c2a1b", Kind: "external", Subject: "question 1", Followers: []string{p.ID},
		Tag: "12", RootID: "<1.x@c.bench>", Created: at, OpenedUnverified: p.ID}
	m := &Message{ID: "m0000018f3c2a1b", Conversation: c.ID, Author: p.ID, Channel: "email",
		Text: strings.Repeat("Hello, I have a question about my order.\n", 40), Original: "s0000018f3c2a1b",
		MessageID: "<1.x@c.bench>", Created: at, Unverified: true, Verification: "spf=none; dkim=none",
		EmailTo: []string{"support@bench.test"}}
	for _, enc := range []struct {
		name string
		f    func(any) ([]byte, error)
	}{{"fast", encodeRecord}, {"encoding-json", json.Marshal}} {
		b.Run(enc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				for _, v := range []any{p, c, m} {
					if _, err := enc.f(v); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// TestRecordEncodeEveryField fails for a field added to Person,
// Conversation, Message, Notification (or notify.Settings, Attachment) but not to
// encodeRecord: every field set, it writes json.Marshal's bytes.
func TestRecordEncodeEveryField(t *testing.T) {
	enums := map[string]string{"Kind": string(notify.KindCustomer), "Visibility": string(notify.VisibilityAllProjects),
		"FromCustomers": string(notify.FromCustomersAll), "FromUsers": string(notify.FromUsersAll)}
	var p Person
	var c Conversation
	var m Message
	var n Notification
	for _, v := range []any{&p, &c, &m, &n} {
		jsonrectest.Fill(v, enums)
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if v == any(&n) {
			v = n // MarkSeenOf writes it by value
		}
		if got, err := encodeRecord(v); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("encodeRecord\n got %s (%v)\nwant %s", got, err, want)
		}
	}
}

// TestMessageRecordInOneAllocation: the record of an email's message (a
// bench email's, with its verification note and recipients) is written
// without growing its buffer.
func TestMessageRecordInOneAllocation(t *testing.T) {
	m := &Message{ID: "0195f0c0a1b2c3d4e5f60718", Conversation: "0195f0c0a1b2c3d4e5f60719", Author: "0195f0c0a1b2c3d4e5f60720",
		Channel: "email", Text: strings.Repeat("Hello, I have a question about my order.\n", 40), Original: "0195f0c0a1b2c3d4e5f60721",
		MessageID: "<1765106122.x1y2z3@c1234-abcdefghijk.bench>", Created: time.Date(2026, 12, 7, 23, 0, 0, 123456789, time.UTC), Unverified: true,
		Verification: "the sender's domain publishes no SPF, DKIM or DMARC record that passes: spf=none dkim=none dmarc=none header.from=c1234-abcdefghijk.bench",
		EmailTo:      []string{"support@bench.test", "Other Person <other.person@example.test>"}}
	if n := testing.AllocsPerRun(50, func() { _, _ = encodeRecord(m) }); n != 1 {
		t.Errorf("%v allocations, want 1", n)
	}
}
