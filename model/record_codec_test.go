package model

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/deskmail/deskmail/notify"
)

// jsonRoundTrip is what a record read back as when it was stored as JSON.
func jsonRoundTrip[T any](t *testing.T, v T) (T, bool) {
	var out T
	b, err := json.Marshal(v)
	if err != nil {
		return out, false
	}
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("JSON of %+v does not read back: %v", v, err)
	}
	return out, true
}

// recordTimes are times in the zones a record meets: UTC, Local, other
// offsets, the zero time, and times the binary form does not hold.
func recordTimes(rng *rand.Rand) []time.Time {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	var out []time.Time
	for range 40 {
		t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
		out = append(out, t, t.UTC(), t.Local(), t.In(ny), t.In(time.FixedZone("", 5*3600+1800)), t.In(time.FixedZone("X", 3600)),
			t.In(time.FixedZone("", 0)), t.In(time.FixedZone("LMT", -75)), t.Round(0))
	}
	return append(out, time.Time{}, time.Date(1600, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(12000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 25*3600)))
}

var recordStrings = []string{"", "ann", "Ann Ø 漢字", "a\u2028b<>&\"\\", "customer", "user"}

// pickString is one of recordStrings, or now and then one that is not
// UTF-8 (JSON changes it: the record stays JSON).
func pickString(rng *rand.Rand) string {
	if rng.IntN(20) == 0 {
		return "\xff\xfe"
	}
	return recordStrings[rng.IntN(len(recordStrings))]
}

// pickEnum is one of the allowed values, or now and then another (JSON
// refuses it: so must the binary form).
func pickEnum[T ~string](rng *rand.Rand, allowed []T) T {
	if rng.IntN(20) == 0 {
		return T(pickString(rng))
	}
	return allowed[rng.IntN(len(allowed))]
}

func randomPeople(rng *rand.Rand) []Person {
	var out []Person
	pick := func() string { return pickString(rng) }
	for _, tm := range recordTimes(rng) {
		p := Person{ID: pick(), Kind: pickEnum(rng, []notify.Kind{notify.KindUser, notify.KindCustomer, notify.KindBot}), Name: pick(),
			Created: tm, Unverified: rng.IntN(2) == 0,
			Settings: notify.Settings{Visibility: pickEnum(rng, []notify.Visibility{notify.VisibilityFollowedProjects, notify.VisibilityAllProjects}),
				ShowFromCustomers: rng.IntN(2) == 0,
				FromCustomers:     pickEnum(rng, []notify.FromCustomers{notify.FromCustomersMine, notify.FromCustomersAll, notify.FromCustomersNone}),
				FromUsers:         pickEnum(rng, []notify.FromUsers{notify.FromUsersFollowed, notify.FromUsersAll, notify.FromUsersNone}),
				FollowedInternal:  rng.IntN(2) == 0, AssignmentChanges: rng.IntN(2) == 0, NewMembers: rng.IntN(2) == 0,
				AcceptInvitations: rng.IntN(2) == 0}}
		switch rng.IntN(3) {
		case 0:
		case 1:
			p.Emails = []string{}
		case 2:
			p.Emails = []string{pick(), pick()}
		}
		out = append(out, p)
	}
	return out
}

func randomConversations(rng *rand.Rand) []Conversation {
	var out []Conversation
	pick := func() string { return pickString(rng) }
	times := recordTimes(rng)
	for i, tm := range times {
		c := Conversation{ID: pick(), Item: pick(), Kind: pick(), Subject: pick(), Tag: pick(), RootID: pick(), Created: tm,
			OpenedUnverified: pick()}
		switch rng.IntN(3) {
		case 0:
		case 1:
			c.Followers = []string{}
		case 2:
			c.Followers = []string{pick(), pick(), pick()}
		}
		if rng.IntN(2) == 0 {
			aw := times[(i+7)%len(times)]
			c.AgentWrote = &aw
		}
		out = append(out, c)
	}
	return out
}

// checkSameAsJSON stores v as put does and reads it back as get does: the
// value must be what a JSON round trip gives (zones included), and a
// value JSON cannot store must fail the same way.
func checkSameAsJSON[T any](t *testing.T, v T, binary *int) {
	t.Helper()
	want, jsonOK := jsonRoundTrip(t, v)
	b, err := encodeRecord(v)
	if (err == nil) != jsonOK {
		t.Fatalf("encodeRecord(%+v) error %v, JSON ok %v", v, err, jsonOK)
	}
	if err != nil {
		return
	}
	if b[0] == recordV1 {
		*binary++
	}
	var got T
	if err := decodeRecord(b, &got); err != nil {
		t.Fatalf("decodeRecord of %+v: %v", v, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v\nJSON gives %+v", got, want)
	}
	if b[0] == recordV1 {
		// A binary record rewritten gives the same bytes.
		again, _ := encodeRecord(got)
		if string(again) != string(b) {
			t.Fatalf("%+v: rewritten as %x, was %x", got, again, b)
		}
		// Truncated, it is refused.
		for n := 1; n < len(b); n++ {
			var x T
			if err := decodeRecord(b[:n], &x); err == nil {
				t.Fatalf("%x (truncated %d of %d) read without error as %+v", b[:n], n, len(b), x)
			}
		}
	}
}

// samePointerForm: put stores a record given by value or by pointer alike.
func samePointerForm(t *testing.T, v, ptr any) {
	t.Helper()
	a, aerr := encodeRecord(v)
	b, berr := encodeRecord(ptr)
	if string(a) != string(b) || (aerr == nil) != (berr == nil) {
		t.Fatalf("%+v stored as %x (%v) by value, %x (%v) by pointer", v, a, aerr, b, berr)
	}
}

func TestRecordCodecSameAsJSON(t *testing.T) {
	run := func(t *testing.T) {
		rng := rand.New(rand.NewPCG(27, 3))
		bin, n := 0, 0
		for _, p := range randomPeople(rng) {
			checkSameAsJSON(t, p, &bin)
			samePointerForm(t, p, &p)
			n++
		}
		for _, c := range randomConversations(rng) {
			checkSameAsJSON(t, c, &bin)
			samePointerForm(t, c, &c)
			n++
		}
		t.Logf("%d of %d records in the binary form", bin, n)
		if bin < n/4 {
			t.Fatalf("%d of %d records in the binary form", bin, n)
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

// TestRecordCodecKeepsEveryField fails for a field added to Person,
// notify.Settings or Conversation: add it to record_codec.go (and to
// randomPeople/randomConversations), then update the count here.
func TestRecordCodecKeepsEveryField(t *testing.T) {
	for _, c := range []struct {
		v    any
		want int
	}{{Person{}, 7}, {notify.Settings{}, 8}, {Conversation{}, 10}} {
		if n := reflect.TypeOf(c.v).NumField(); n != c.want {
			t.Errorf("%T has %d fields, the binary record form (record_codec.go) knows %d", c.v, n, c.want)
		}
	}
}

// TestRecordCodecReadsJSONRecords: records stored as JSON by earlier
// versions read as before.
func TestRecordCodecReadsJSONRecords(t *testing.T) {
	var p Person
	if err := decodeRecord([]byte(`{"id":"ann","kind":"customer","name":"Ann","emails":["ann@example.org"],"settings":{"visibility":"followed_projects","show_from_customers":true},"created":"2026-12-07T11:00:00+01:00","unverified":true}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != "ann" || !p.Unverified || !p.Settings.ShowFromCustomers || p.Created.Unix() != 1796637600 || len(p.Emails) != 1 {
		t.Fatalf("read %+v", p)
	}
	var c Conversation
	if err := decodeRecord([]byte(`{"id":"c1","kind":"external","followers":null,"tag":"7","created":"2026-12-07T10:00:00Z","agent_wrote":"2026-12-07T10:05:00Z"}`), &c); err != nil {
		t.Fatal(err)
	}
	if c.ID != "c1" || c.Tag != "7" || c.Followers != nil || c.AgentWrote == nil || c.AgentWrote.Sub(c.Created) != 5*time.Minute {
		t.Fatalf("read %+v", c)
	}
	if err := decodeRecord([]byte{recordV1, 0}, &c); err == nil {
		t.Fatal("a malformed binary record read without error")
	}
	var other struct{ ID string }
	if err := decodeRecord([]byte{recordV1}, &other); err == nil {
		t.Fatal("a binary record read into another type without error")
	}
}
