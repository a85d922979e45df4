package journal

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/deskmail/deskmail/internal/jsonrec/jsonrectest"
)

var entryStrings = []string{"", "received", "Customer 1 <cust1@c1-x.bench>", "question 1", "Ann Ø 漢字",
	"a\u2028b\u2029c", "q\"uote\\back/slash", "tab\there\nline\r\b\f\x00\x1f\x7f", "<>&", "\xff\xfe bad", "\xe2\x80", "spf=pass smtp.mailfrom=x"}

// pickEntryString is one of entryStrings, or a few random bytes (every
// byte value, so every escape and every broken UTF-8 sequence).
func pickEntryString(rng *rand.Rand) string {
	if rng.IntN(4) != 0 {
		return entryStrings[rng.IntN(len(entryStrings))]
	}
	b := make([]byte, rng.IntN(8))
	for i := range b {
		if rng.IntN(2) == 0 {
			b[i] = byte(rng.IntN(256))
		} else {
			const pieces = "aZ<\"\\\xe2\x80\xa8\xc3\xa9"
			b[i] = pieces[rng.IntN(len(pieces))]
		}
	}
	return string(b)
}

func pickEntryList(rng *rand.Rand) []string {
	switch rng.IntN(4) {
	case 0:
		return nil
	case 1:
		return []string{}
	}
	l := make([]string, 1+rng.IntN(3))
	for i := range l {
		l[i] = pickEntryString(rng)
	}
	return l
}

func pickEntryTime(rng *rand.Rand) time.Time {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	t := time.Unix(rng.Int64N(4e9), rng.Int64N(1e9))
	switch rng.IntN(10) {
	case 0:
		return time.Time{}
	case 1:
		return t.Local()
	case 2:
		return t.In(ny)
	case 3:
		return t.In(time.FixedZone("", 5*3600+1800))
	case 4:
		return t.In(time.FixedZone("LMT", -75))
	case 5:
		return time.Date(10000+rng.IntN(3), 1, 1, 0, 0, 0, 0, time.UTC) // MarshalJSON refuses it
	case 6:
		return t.Round(time.Second).UTC()
	}
	return t.UTC()
}

func randomEntry(rng *rand.Rand) *Entry {
	s := func() string {
		if rng.IntN(3) == 0 {
			return ""
		}
		return pickEntryString(rng)
	}
	e := &Entry{ID: s(), Time: pickEntryTime(rng), Direction: Direction(s()), Status: s(), Reason: s(),
		MessageID: s(), StoredID: s(), EnvelopeFrom: s(), EnvelopeTo: pickEntryList(rng), From: s(), Subject: s(),
		RemoteIP: s(), Proto: s(), Via: s(), Class: s(), Reasons: pickEntryList(rng), Action: s(),
		Conversation: s(), ThreadBy: s(), Auth: s(), Unverified: rng.IntN(2) == 0, Job: s(), Person: s(),
		Messages: pickEntryList(rng), Attention: s()}
	switch rng.IntN(4) {
	case 0:
		e.Size = rng.Int64()
	case 1:
		e.Size = -rng.Int64N(1000)
	case 2:
		e.Size = rng.Int64N(100000)
	}
	if rng.IntN(3) == 0 {
		t := pickEntryTime(rng)
		e.NextAttempt = &t
	}
	return e
}

// TestEntryJSONSameAsEncodingJSON: encodeEntry writes json.Marshal's bytes
// (and fails where it fails), and decodeEntry reads what json.Unmarshal
// reads (and fails where it fails) on those bytes, on the same with a
// byte changed, dropped or inserted, and on hand-written forms
// json.Marshal does not write.
func TestEntryJSONSameAsEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(27, 3))
	var docs [][]byte
	for range 5000 {
		e := randomEntry(rng)
		want, werr := json.Marshal(e)
		got, gerr := encodeEntry(e)
		if (werr == nil) != (gerr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("encodeEntry(%+v)\n got %s (%v)\nwant %s (%v)", e, got, gerr, want, werr)
		}
		if werr == nil && len(docs) < 2000 {
			docs = append(docs, want)
		}
	}
	var mutated [][]byte
	for _, d := range docs {
		for range 5 {
			m := bytes.Clone(d)
			i := rng.IntN(len(m))
			switch rng.IntN(3) {
			case 0:
				const pick = "{}[]\",:\\0123456789-.etrufalsn \x00\xff<u"
				m[i] = pick[rng.IntN(len(pick))]
			case 1:
				m = append(m[:i], m[i+1:]...)
			default:
				m = append(m[:i], append([]byte{"\" ,:{}[0e\\"[rng.IntN(10)]}, m[i:]...)...)
			}
			mutated = append(mutated, m)
		}
	}
	hand := []string{
		`{}`, `{"id":"x"}`, ` {"id":"x"}`, `{"id":"x"} `, `{"ID":"x"}`, `{"id":null}`, `{"id":"a","id":"b"}`,
		`{"size":0}`, `{"size":-0}`, `{"size":007}`, `{"size":1.5}`, `{"size":1e3}`, `{"size":9223372036854775807}`,
		`{"size":9223372036854775808}`, `{"size":123456789012345678}`, `{"size":-}`, `{"size":"5"}`,
		`{"unverified":false}`, `{"unverified":null}`, `{"unverified":1}`, `{"reasons":null}`, `{"reasons":[]}`,
		`{"reasons":["a",]}`, `{"reasons":["a","a"],"reasons":["b"]}`, `{"next_attempt":null}`,
		`{"next_attempt":"2026-12-07T11:15:22Z"}`, `{"time":"2026-12-07T11:15:22.5+01:00"}`, `{"time":"2026-12-07"}`,
		`{"time":"\u0032026-12-07T11:15:22Z"}`, `{"time":null}`, `{"from":"a \u003cb@c\u003e"}`, `{"from":"\ud800"}`,
		`{"from":"\ud83d\ude00"}`, `{"from":"\u00e9\u00E9\/\b\f\n\r\t\u0000"}`, `{"from":"\u12"}`, `{"from":"\a"}`,
		`{"from":"\u00e9\u20"}`, `{"from":"\uDFFF x"}`, `{"from":"\ufffe\uFFFF"}`, "{\"from\":\"\xc3\\u00a9\"}", "{\"from\":\"\\u00e9\xa9\"}", `{"from":"\x"}`, "{\"from\":\"a\x01\"}", "{\"from\":\"\xff\"}", `{"from":"a"}x`,
		`{"from":"a"`, `{"unknown":1}`, `{"direction":"in","status":"received"}`, `[]`, `null`, ``,
	}
	for _, h := range hand {
		mutated = append(mutated, []byte(h))
	}
	for _, d := range append(docs, mutated...) {
		var want, got Entry
		werr := json.Unmarshal(d, &want)
		gerr := decodeEntry(d, &got)
		if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("decodeEntry(%q)\n got %+v (%v)\nwant %+v (%v)", d, got, gerr, want, werr)
		}
	}
}

// FuzzDecodeEntry: decodeEntry reads what json.Unmarshal reads.
func FuzzDecodeEntry(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		if b, err := json.Marshal(randomEntry(rng)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"size":1e3,"from":"\u003c"}`))
	f.Fuzz(func(t *testing.T, d []byte) {
		var want, got Entry
		werr := json.Unmarshal(d, &want)
		gerr := decodeEntry(d, &got)
		if (werr == nil) != (gerr == nil) || (werr == nil && !reflect.DeepEqual(got, want)) {
			t.Fatalf("decodeEntry(%q)\n got %+v (%v)\nwant %+v (%v)", d, got, gerr, want, werr)
		}
	})
}

// BenchmarkEntryJSON is an entry of `deskmail bench pipeline` written and
// read once, by encodeEntry and decodeEntry and by encoding/json.
func BenchmarkEntryJSON(b *testing.B) {
	e := &Entry{ID: "0000018f3c2a1b000000000000000001", Time: time.Date(2026, 12, 7, 11, 15, 22, 123456789, time.UTC),
		Direction: In, Status: StatusReceived, MessageID: "<1.x@c.bench>", StoredID: "m1", EnvelopeFrom: "cust1@c1-x.bench",
		EnvelopeTo: []string{"support@bench.test"}, From: "Customer 1 <cust1@c1-x.bench>", Subject: "question 1",
		Size: 1912, RemoteIP: "127.0.0.1", Proto: "ESMTP", Class: "human", Action: "posted to conversation 12 as Customer 1 <cust1@c1-x.bench>",
		Conversation: "c12", ThreadBy: "new", Auth: "spf=pass smtp.mailfrom=c1-x.bench; dkim=none; dmarc=none", Person: "p1", Messages: []string{"m9"}}
	b.Run("jsonrec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := encodeEntry(e)
			var d Entry
			if err := decodeEntry(v, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v, _ := json.Marshal(e)
			var d Entry
			if err := json.Unmarshal(v, &d); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestEntryJSONEveryField fails for a field added to Entry but not to
// encodeEntry and decodeEntryFast: every field set, the encoder writes
// json.Marshal's bytes and the fast decoder reads them all back.
func TestEntryJSONEveryField(t *testing.T) {
	var e Entry
	jsonrectest.Fill(&e, nil)
	want, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	got, err := encodeEntry(&e)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encodeEntry\n got %s (%v)\nwant %s", got, err, want)
	}
	var d Entry
	if !decodeEntryFast(want, &d) || !reflect.DeepEqual(d, e) {
		t.Fatalf("decodeEntryFast(%s) = %+v", want, d)
	}
}
