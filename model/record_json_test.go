package model

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/deskmail/deskmail/notify"
)

// recordTimes are times in the zones a record meets: UTC, Local, other
// offsets, the zero time, odd years.
func recordTimes(rng *rand.Rand) []time.Time {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	var out []time.Time
	for range 30 {
		t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
		out = append(out, t, t.UTC(), t.Local(), t.In(ny), t.In(time.FixedZone("", 5*3600+1800)), t.In(time.FixedZone("X", 3600)),
			t.In(time.FixedZone("LMT", -75)), t.Round(time.Second))
	}
	return append(out, time.Time{}, time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC))
}

var recordStrings = []string{"", "ann", "Ann Ø 漢字", "a\u2028b<>&\"\\", "tab\there", "customer", "\xff\xfe"}

// pickString is a plain string four times in five, else one JSON
// escapes (or changes: not UTF-8).
func pickString(rng *rand.Rand) string {
	if rng.IntN(5) != 0 {
		return recordStrings[rng.IntN(3)]
	}
	return recordStrings[rng.IntN(len(recordStrings))]
}

// pickEnum is one of the allowed values, or now and then another.
func pickEnum[T ~string](rng *rand.Rand, allowed ...T) T {
	if rng.IntN(20) == 0 {
		return T(pickString(rng))
	}
	return allowed[rng.IntN(len(allowed))]
}

func pickList(rng *rand.Rand) []string {
	switch rng.IntN(3) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	return []string{pickString(rng), pickString(rng)}
}

// recordsJSON are records as json.Marshal writes them, and the same
// with a byte changed, inserted or dropped here and there.
func recordsJSON(t *testing.T, rng *rand.Rand) (people, convs [][]byte) {
	times := recordTimes(rng)
	for i, tm := range times {
		p := Person{ID: pickString(rng), Kind: pickEnum(rng, notify.KindUser, notify.KindCustomer, notify.KindBot),
			Name: pickString(rng), Emails: pickList(rng), Created: tm, Unverified: rng.IntN(2) == 0,
			Settings: notify.Settings{Visibility: pickEnum(rng, notify.VisibilityFollowedProjects, notify.VisibilityAllProjects),
				ShowFromCustomers: rng.IntN(2) == 0,
				FromCustomers:     pickEnum(rng, notify.FromCustomersMine, notify.FromCustomersAll, notify.FromCustomersNone),
				FromUsers:         pickEnum(rng, notify.FromUsersFollowed, notify.FromUsersAll, notify.FromUsersNone),
				FollowedInternal:  rng.IntN(2) == 0, AssignmentChanges: rng.IntN(2) == 0, NewMembers: rng.IntN(2) == 0,
				AcceptInvitations: rng.IntN(2) == 0}}
		if b, err := json.Marshal(p); err == nil {
			people = append(people, b)
		}
		c := Conversation{ID: pickString(rng), Item: pickString(rng), Kind: pickString(rng), Subject: pickString(rng),
			Followers: pickList(rng), Tag: pickString(rng), RootID: pickString(rng), Created: tm, OpenedUnverified: pickString(rng)}
		if rng.IntN(2) == 0 {
			aw := times[(i+7)%len(times)]
			c.AgentWrote = &aw
		}
		if b, err := json.Marshal(c); err == nil {
			convs = append(convs, b)
		}
	}
	mutate := func(l [][]byte) [][]byte {
		const junk = "\"\\:,{}[] 0aZnull\x00\xff"
		out := l
		for _, b := range l {
			for range 20 {
				m := append([]byte{}, b...)
				i := rng.IntN(len(m))
				switch rng.IntN(3) {
				case 0:
					m[i] = junk[rng.IntN(len(junk))]
				case 1:
					m = append(m[:i], append([]byte{junk[rng.IntN(len(junk))]}, m[i:]...)...)
				case 2:
					m = append(m[:i], m[i+1:]...)
				}
				out = append(out, m)
			}
		}
		return out
	}
	// Forms json.Marshal does not write but an earlier version or a
	// person may have: explicit nulls, keys twice.
	convs = append(convs, []byte(`{"id":"c","kind":"external","followers":null,"tag":"1","created":"2026-12-07T10:00:00Z","agent_wrote":null}`),
		[]byte(`{"id":"c","followers":["a"],"followers":[],"agent_wrote":"2026-12-07T10:00:00Z","agent_wrote":"2026-12-07T11:00:00+01:00"}`))
	people = append(people, []byte(`{"id":"p","emails":["a"],"emails":null,"settings":{"new_members":true},"settings":{"new_members":false}}`))
	return mutate(people), mutate(convs)
}

// checkSameAsJSON: whenever the fast decoder reads b, json.Unmarshal
// reads it too, to the same value (zones included), from a zero value
// and from one already filled.
func checkSameAsJSON[T any](t *testing.T, b []byte, fast func([]byte, *T) bool, prior T) bool {
	t.Helper()
	for _, start := range []T{*new(T), prior} {
		got, want := start, start
		if !fast(b, &got) {
			return false
		}
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%s: read by the fast decoder as %+v, encoding/json: %v", b, got, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s:\nfast decoder  %+v\nencoding/json %+v", b, got, want)
		}
	}
	return true
}

func TestRecordJSONSameAsEncodingJSON(t *testing.T) {
	run := func(t *testing.T) {
		rng := rand.New(rand.NewPCG(27, 4))
		people, convs := recordsJSON(t, rng)
		aw := time.Unix(1, 0)
		priorP := Person{ID: "x", Emails: []string{"old@x"}, Unverified: true, Settings: notify.DefaultSettings()}
		priorC := Conversation{ID: "x", Followers: []string{"p"}, AgentWrote: &aw}
		fastP, fastC := 0, 0
		for _, b := range people {
			if checkSameAsJSON(t, b, decodePersonJSON, priorP) {
				fastP++
			}
		}
		for _, b := range convs {
			if checkSameAsJSON(t, b, decodeConversationJSON, priorC) {
				fastC++
			}
		}
		// 21 records of each original: the original and 20 mutations.
		t.Logf("fast decoder read %d of %d people, %d of %d conversations", fastP, len(people), fastC, len(convs))
		if fastP < len(people)/21/10 || fastC < len(convs)/21/10 {
			t.Fatal("the fast decoder read too few of json.Marshal's records")
		}
	}
	t.Run("local=UTC", run)
	t.Run("local=New_York", func(t *testing.T) {
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Skip("no zoneinfo:", err)
		}
		old := time.Local
		time.Local = ny
		defer func() { time.Local = old }()
		run(t)
	})
}

// TestRecordJSONReadsWhatPutWrites: the records model writes are read
// by the fast decoder, not handed to encoding/json.
func TestRecordJSONReadsWhatPutWrites(t *testing.T) {
	aw := time.Date(2026, 12, 7, 11, 0, 0, 5, time.UTC)
	p := Person{ID: "p1", Kind: notify.KindCustomer, Name: "Ann Example", Emails: []string{"ann@example.org"},
		Settings: notify.DefaultSettings(), Created: time.Now(), Unverified: true}
	c := Conversation{ID: "c1", Kind: External, Subject: "question 7", Followers: []string{"p1"}, Tag: "42",
		RootID: "7.x@c.bench", Created: time.Now(), OpenedUnverified: "p1", AgentWrote: &aw}
	pb, _ := json.Marshal(p)
	cb, _ := json.Marshal(&c)
	var p2 Person
	var c2 Conversation
	if !decodePersonJSON(pb, &p2) || !decodeConversationJSON(cb, &c2) {
		t.Fatalf("the fast decoder did not read %s or %s", pb, cb)
	}
	if !p2.Created.Equal(p.Created) || p2.Name != p.Name || !c2.AgentWrote.Equal(aw) || c2.RootID != c.RootID {
		t.Fatalf("read %+v, %+v", p2, c2)
	}
}

// BenchmarkRecordJSON reads a person and a conversation as the pipeline's
// commit does, with the fast decoder and with encoding/json:
//
//	go test -run '^$' -bench RecordJSON -benchmem ./model
func BenchmarkRecordJSON(b *testing.B) {
	p := Person{ID: "01JEX0000000000000000000P1", Kind: notify.KindCustomer, Name: "Customer 7", Emails: []string{"cust7@c7-x.bench"},
		Settings: notify.DefaultSettings(), Created: time.Now().UTC(), Unverified: true}
	c := Conversation{ID: "01JEX0000000000000000000C1", Kind: External, Subject: "question 7", Followers: []string{p.ID}, Tag: "7",
		RootID: "7.x@c.bench", Created: time.Now().UTC(), OpenedUnverified: p.ID}
	pb, _ := json.Marshal(p)
	cb, _ := json.Marshal(&c)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p Person
			var c Conversation
			if decodeRecord(pb, &p) != nil || decodeRecord(cb, &c) != nil {
				b.Fatal("not read")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p Person
			var c Conversation
			if json.Unmarshal(pb, &p) != nil || json.Unmarshal(cb, &c) != nil {
				b.Fatal("not read")
			}
		}
	})
}
