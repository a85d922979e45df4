package inbound

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/store"
)

var codecMetas = []Meta{
	{},
	{ID: "0187a", Received: time.Date(2026, 12, 7, 3, 0, 0, 5, time.UTC), Envelope: env, Size: 5120,
		MessageID: "<a@b>", From: "Jörg <j@client.test>", Subject: "café", BodyHash: strings.Repeat("ab", 32),
		Spooled: true, JournalID: "0011", Class: "human", Reasons: []string{"r1", "r2"},
		Bounce: json.RawMessage(`{"recipient":"x@y"}`)},
	{ID: "x", Envelope: Envelope{Proto: "LMTP"}},
}

func TestMetaCodecRoundTrip(t *testing.T) {
	for i, m := range codecMetas {
		b, err := encodeMeta(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		if b[0] != metaV1 {
			t.Errorf("record %d written as %q, want the binary form", i, b)
		}
		var got Meta
		if err := decodeMeta(b, &got); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("record %d: read back %+v, want %+v", i, got, m)
		}
	}
}

// Every field of Meta and of its Envelope must survive the binary form: a
// field added without a place in encodeMeta and decodeMeta fails here.
func TestMetaCodecKeepsEveryField(t *testing.T) {
	var walk func(typ reflect.Type, idx []int, path string)
	walk = func(typ reflect.Type, idx []int, path string) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			fidx := append(append([]int{}, idx...), i)
			p := path + "." + f.Name
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Time]() {
				walk(f.Type, fidx, p)
				continue
			}
			var m Meta
			switch x := reflect.ValueOf(&m).Elem().FieldByIndex(fidx).Addr().Interface().(type) {
			case *string:
				*x = "x"
			case *int64:
				*x = -42
			case *bool:
				*x = true
			case *[]string:
				*x = []string{"a", "b"}
			case *time.Time:
				*x = time.Date(2026, 12, 7, 3, 0, 0, 1, time.UTC)
			case *json.RawMessage:
				*x = json.RawMessage(`{"a":1}`)
			default:
				t.Fatalf("Meta%s has type %s, which this test (and maybe the codec) does not know", p, f.Type)
			}
			b, err := encodeMeta(nil, &m)
			if err != nil {
				t.Fatal(err)
			}
			var got Meta
			if err := decodeMeta(b, &got); err != nil || !reflect.DeepEqual(got, m) {
				t.Errorf("Meta%s is lost in the binary form: wrote %+v, read %+v (%v)", p, m, got, err)
			}
		}
	}
	walk(reflect.TypeFor[Meta](), nil, "")
}

// Records written as JSON by earlier versions are still read, annotated
// (and then rewritten in the binary form) and listed.
func TestMetaCodecReadsOldRecords(t *testing.T) {
	r, _ := newReceiver(t, Limits{})
	rc, err := r.Receive(t.Context(), env, strings.NewReader("Message-ID: <old@client.test>\r\nSubject: old\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(r.DB, rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := json.Marshal(&m) // as earlier versions wrote it
	if err := update(t, r.DB, func(tx *store.Tx) error { return tx.Put(bucketMeta, []byte(rc.ID), legacy) }); err != nil {
		t.Fatal(err)
	}
	old, err := Load(r.DB, rc.ID)
	if err != nil || old.Subject != "old" || old.MessageID != "<old@client.test>" || !old.Received.Equal(m.Received) || old.JournalID == "" {
		t.Fatalf("old record read as %+v, %v", old, err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error {
		return Annotate(tx, rc.ID, func(m *Meta) { m.Class, m.Reasons = "human", []string{"looks human"} })
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.DB.View(func(tx *store.Tx) error {
		if v := tx.Get(bucketMeta, []byte(rc.ID)); len(v) == 0 || v[0] != metaV1 {
			t.Errorf("annotated record is %q, want the binary form", v)
		}
		recs, err := List(tx, "", 10)
		if err != nil || len(recs) != 1 || recs[0].Subject != "old" {
			t.Errorf("List = %+v, %v", recs, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got, err := Load(r.DB, rc.ID)
	if err != nil || got.Class != "human" || got.Subject != "old" || got.Size != m.Size || !reflect.DeepEqual(got.Envelope, m.Envelope) {
		t.Errorf("annotated record read as %+v, %v", got, err)
	}
}

func TestMetaCodecRejectsMalformed(t *testing.T) {
	good, _ := encodeMeta(nil, &codecMetas[1])
	for _, b := range [][]byte{
		{metaV1},
		good[:len(good)-1],
		append(append([]byte{}, good...), 0),
		{metaV1, 0, 2}, // a time flag that is neither 0 nor 1
	} {
		var m Meta
		if err := decodeMeta(b, &m); err == nil {
			t.Errorf("decodeMeta(%q) = %+v, want an error", b, m)
		}
	}
}

// FuzzDecodeMeta: whatever bytes the record bucket holds, reading them
// never panics, and what reads back re-encodes to the same record.
func FuzzDecodeMeta(f *testing.F) {
	for _, m := range codecMetas {
		b, _ := encodeMeta(nil, &m)
		f.Add(b)
	}
	f.Add([]byte(`{"id":"a","size":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Meta
		if err := decodeMeta(b, &m); err != nil || len(b) == 0 || b[0] != metaV1 {
			return
		}
		again, err := encodeMeta(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		var m2 Meta
		if err := decodeMeta(again, &m2); err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%q read as %+v, re-encoded %q read as %+v (%v)", b, m, again, m2, err)
		}
	})
}

// BenchmarkMetaCodec: the pipeline's read and rewrite (Annotate) of one
// stored email's record, binary against the JSON of earlier versions.
//
//	go test -run '^$' -bench MetaCodec -benchmem ./inbound
func BenchmarkMetaCodec(b *testing.B) {
	m := codecMetas[1]
	m.Bounce, m.Class, m.Reasons = nil, "", nil
	bin, _ := encodeMeta(nil, &m)
	js, _ := json.Marshal(&m)
	b.Run("binary", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got Meta
			if err := decodeMeta(bin, &got); err != nil {
				b.Fatal(err)
			}
			got.Class = "human"
			if _, err := encodeMeta(make([]byte, 0, 256), &got); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var got Meta
			if err := json.Unmarshal(js, &got); err != nil {
				b.Fatal(err)
			}
			got.Class = "human"
			if _, err := json.Marshal(&got); err != nil {
				b.Fatal(err)
			}
		}
	})
}
