package inbound

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/jobs"
	"github.com/deskmail/deskmail/store"
)

var codecStates = []State{
	{},
	{Seq: 1, Size: 5120},
	{Seq: 1 << 40, Stored: time.Date(2026, 12, 7, 3, 0, 0, 123456789, time.UTC), Size: 5120,
		Keys: []string{"from\x00ann@client.test", "id\x00<a@b>", ""},
		Lease: jobs.Lease{Attempts: 3, Next: time.Date(2026, 12, 7, 3, 1, 0, 0, time.UTC), Reason: "dns: timeout ✓",
			Owner: "node-1/42", Until: time.Date(2026, 12, 7, 3, 0, 30, 0, time.UTC), Fence: 7},
		Backoff: true, Failed: time.Date(2026, 12, 7, 4, 0, 0, 0, time.UTC)},
	{Seq: 9, Lease: jobs.Lease{Attempts: -1}, Backoff: true},
}

func TestStateCodecRoundTrip(t *testing.T) { checkRoundTrip(t, stateCodec, codecStates) }

// States written by earlier versions (JSON) and emails stored before
// states existed (an empty value) are still read.
func TestStateCodecReadsOldRecords(t *testing.T) {
	old := `{"seq":12,"stored":"2026-11-30T22:00:00.5Z","size":4096,"keys":["id\u0000<x@y>"],"attempts":2,` +
		`"next":"2026-11-30T22:05:00+01:00","backoff":true,"reason":"later","owner":"n1","lease":"2026-11-30T22:01:00Z","fence":4}`
	var st State
	if err := decodeState([]byte(old), &st); err != nil {
		t.Fatal(err)
	}
	if st.Seq != 12 || st.Size != 4096 || len(st.Keys) != 1 || st.Attempts != 2 || !st.Backoff || st.Owner != "n1" || st.Fence != 4 ||
		st.Reason != "later" || !st.Until.Equal(time.Date(2026, 11, 30, 22, 1, 0, 0, time.UTC)) ||
		!st.Next.Equal(time.Date(2026, 11, 30, 21, 5, 0, 0, time.UTC)) || !st.Stored.Equal(time.Date(2026, 11, 30, 22, 0, 0, 5e8, time.UTC)) {
		t.Errorf("old JSON state read as %+v", st)
	}
	if err := decodeState(nil, &st); err != nil || !reflect.DeepEqual(st, State{}) {
		t.Errorf("empty state: %+v, %v", st, err)
	}

	// In a store: an old JSON state is claimed, deferred and listed like
	// any other, and is rewritten in the new form.
	r, _ := newReceiver(t, Limits{})
	rc, err := r.Receive(t.Context(), env, strings.NewReader("Message-ID: <old@client.test>\r\n\r\nhi\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	legacy, _ := json.Marshal(map[string]any{"seq": 1, "size": 99, "stored": time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)})
	if err := update(t, r.DB, func(tx *store.Tx) error { return tx.Put(bucketPending, []byte(rc.ID), legacy) }); err != nil {
		t.Fatal(err)
	}
	var n, size int64
	if err := r.DB.View(context.Background(), func(tx *store.Tx) error {
		var err error
		n, size, err = PendingTotals(tx)
		return err
	}); err != nil || n != 1 || size != 99 {
		t.Fatalf("PendingTotals over an old state = %d, %d, %v", n, size, err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error {
		st, ok, err := getState(tx, bucketPending, rc.ID)
		if err != nil || !ok {
			t.Fatalf("getState: %v %v", ok, err)
		}
		st.Attempts++
		return putState(tx, bucketPending, rc.ID, st)
	}); err != nil {
		t.Fatal(err)
	}
	if err := r.DB.View(context.Background(), func(tx *store.Tx) error {
		v := tx.Get(bucketPending, []byte(rc.ID))
		if len(v) == 0 || v[0] != stateV1 {
			t.Errorf("rewritten state is %q, want the binary form", v)
		}
		recs, err := List(tx, "", 10)
		if err != nil || len(recs) != 1 || recs[0].Size != 99 || recs[0].Attempts != 1 {
			t.Errorf("List = %+v, %v", recs, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// A time that int64 nanoseconds cannot hold keeps the state in JSON.
func TestStateCodecFarTimesStayJSON(t *testing.T) {
	st := State{Seq: 1, Lease: jobs.Lease{Next: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}}
	b, err := encodeState(nil, &st)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != '{' {
		t.Fatalf("far time written as %q, want JSON", b)
	}
	var got State
	if err := decodeState(b, &got); err != nil || !got.Next.Equal(st.Next) {
		t.Errorf("read back %+v, %v", got, err)
	}
}

func TestStateCodecRejectsMalformed(t *testing.T) {
	checkRejects(t, stateCodec, codecStates[2],
		[]byte{stateV1, stKeys, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, // a billion keys
		[]byte{stateV1, stReason, 1, 0, 200, 'x'},                   // a string past the end
	)
}

// FuzzDecodeState: whatever bytes a state bucket holds, reading them
// never panics, and what reads back re-encodes to the same state.
func FuzzDecodeState(f *testing.F) {
	fuzzRecord(f, stateCodec, codecStates, []byte(`{"seq":1,"size":2}`), []byte{})
}

// BenchmarkStateCodec: one claim's read and rewrite of a typical pending
// email's state, in the binary form and in the JSON of earlier versions.
//
//	go test -run '^$' -bench StateCodec -benchmem ./inbound
func BenchmarkStateCodec(b *testing.B) {
	st := State{Seq: 123456, Stored: time.Now().UTC(), Size: 5120,
		Keys:  []string{"from\x00cust1@c1.bench", "id\x00<1.run@c.bench>"},
		Lease: jobs.Lease{Owner: "node-a/1", Until: time.Now().UTC().Add(time.Minute), Fence: 3}}
	benchRecord(b, stateCodec, st, func(st *State) { st.Fence++ })
}

// Every field of State must survive the binary form: a field added to
// State without a place in encodeState and decodeState would be lost on
// the next rewrite. This fills each field by reflection and fails for one
// the codec drops.
func TestStateCodecKeepsEveryField(t *testing.T) {
	typ := reflect.TypeFor[State]()
	for _, field := range reflect.VisibleFields(typ) {
		if field.Anonymous {
			continue // the engine's jobs.Lease: its fields are visited one by one
		}
		var st State
		f := reflect.ValueOf(&st).Elem().FieldByIndex(field.Index)
		switch v := f.Addr().Interface().(type) {
		case *uint64:
			*v = 42
		case *int64:
			*v = -42
		case *int:
			*v = 7
		case *bool:
			*v = true
		case *string:
			*v = "x"
		case *[]string:
			*v = []string{"k1", "k2"}
		case *time.Time:
			*v = time.Date(2026, 12, 7, 3, 0, 0, 1, time.UTC)
		default:
			t.Fatalf("State.%s has type %s, which this test (and maybe the codec) does not know", field.Name, f.Type())
		}
		b, err := encodeState(nil, &st)
		if err != nil {
			t.Fatal(err)
		}
		var got State
		if err := decodeState(b, &got); err != nil || !reflect.DeepEqual(got, st) {
			t.Errorf("State.%s is lost in the binary form: wrote %+v, read %+v (%v)", field.Name, st, got, err)
		}
	}
}
