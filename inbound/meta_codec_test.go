package inbound

import (
	"context"
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

func TestMetaCodecRoundTrip(t *testing.T) { checkRoundTrip(t, metaCodec, codecMetas) }

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
	m, err := Load(context.Background(), r.DB, rc.ID)
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := json.Marshal(&m) // as earlier versions wrote it
	if err := update(t, r.DB, func(tx *store.Tx) error { return tx.Put(bucketMeta, []byte(rc.ID), legacy) }); err != nil {
		t.Fatal(err)
	}
	old, err := Load(context.Background(), r.DB, rc.ID)
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
	got, err := Load(context.Background(), r.DB, rc.ID)
	if err != nil || got.Class != "human" || got.Subject != "old" || got.Size != m.Size || !reflect.DeepEqual(got.Envelope, m.Envelope) {
		t.Errorf("annotated record read as %+v, %v", got, err)
	}
}

func TestMetaCodecRejectsMalformed(t *testing.T) {
	checkRejects(t, metaCodec, codecMetas[1],
		[]byte{metaV1, 0, 2}, // a time flag that is neither 0 nor 1
	)
}

// FuzzDecodeMeta: whatever bytes the record bucket holds, reading them
// never panics, and what reads back re-encodes to the same record.
func FuzzDecodeMeta(f *testing.F) {
	fuzzRecord(f, metaCodec, codecMetas, []byte(`{"id":"a","size":2}`))
}

// BenchmarkMetaCodec: the pipeline's read and rewrite (Annotate) of one
// stored email's record, binary against the JSON of earlier versions.
//
//	go test -run '^$' -bench MetaCodec -benchmem ./inbound
func BenchmarkMetaCodec(b *testing.B) {
	m := codecMetas[1]
	m.Bounce, m.Class, m.Reasons = nil, "", nil
	benchRecord(b, metaCodec, m, func(m *Meta) { m.Class = "human" })
}
