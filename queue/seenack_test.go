package queue

import (
	"context"
	"encoding/hex"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// stores runs a test on both backends: the seen-ack's plan (snapshot,
// then a commit that declares the job lock and reads up front) matters
// on PostgreSQL, and must not change what bbolt does.
func stores(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("bbolt", func(t *testing.T) { fn(t, newEnv(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, newEnvOn(t, pgtest.Open(t, t.TempDir(), store.Options{}))) })
}

func TestSeenAckShrinksThenCancelsOnBothStores(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first, second := e.post("first words"), e.post("second words")
		r, err := e.svc.Ack(ctx, "ann", "c1", first)
		if err != nil || !slices.Equal(r.Marked, []string{first}) || !r.Wrote {
			t.Fatalf("ack of the first: %+v %v", r, err)
		}
		if s := e.status(first, "ann"); s != "cancelled (seen)" {
			t.Errorf("first: %q", s)
		}
		if s := e.status(second, "ann"); s != "held" {
			t.Errorf("second after the first's ack: %q, want held", s)
		}
		r, err = e.svc.Ack(ctx, "ann", "c1", second)
		if err != nil || !slices.Equal(r.Marked, []string{second}) {
			t.Fatalf("ack of the second: %+v %v", r, err)
		}
		if got, want := e.statuses(), []string{"held", "cancelled (seen)"}; !slices.Equal(got, want) {
			t.Errorf("journal = %q, want %q", got, want)
		}
		// Repeated: nothing to mark. PostgreSQL and bbolt with its log
		// answer from the read (what it sees is durable).
		r, err = e.svc.Ack(ctx, "ann", "c1", second)
		if err != nil || len(r.Marked) != 0 || r.Wrote != !e.db.ReadsAreDurable() {
			t.Errorf("repeated ack: %+v %v", r, err)
		}
		e.clk.Advance(DefaultHold + time.Second)
		if n := e.process(); n != 0 || len(e.tr.emails()) != 0 {
			t.Errorf("after both acks: %d jobs processed, %d emails", n, len(e.tr.emails()))
		}
	})
}

// An ack whose snapshot saw one held email while another is held by the
// time it commits (the first was sent and a new message started a new
// hold) leaves the one it planned for alone and shrinks the other.
func TestSeenAckPlanGoneStale(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first := e.post("first words")
		var second string
		plan := e.q.SeenPlan
		e.svc.SeenPlan = func(person, conv string) (store.Query, func([]store.KV, []string) messaging.SeenCommit) {
			q, p := plan(person, conv)
			return q, func(kv []store.KV, pending []string) messaging.SeenCommit {
				if second == "" {
					// Between the ack's snapshot and its commit: the held
					// email is sent, and a new message is held anew.
					e.clk.Advance(DefaultHold + time.Second)
					if n := e.process(); n != 1 {
						t.Errorf("processed %d jobs, want 1", n)
					}
					second = e.post("second words")
				}
				return p(kv, pending)
			}
		}
		r, err := e.svc.Ack(ctx, "ann", "c1", first)
		if err != nil || !slices.Equal(r.Marked, []string{first}) {
			t.Fatalf("ack: %+v %v", r, err)
		}
		if s := e.status(first, "ann"); s != "sent" {
			t.Errorf("first: %q, want sent", s)
		}
		if s := e.status(second, "ann"); s != "held" {
			t.Errorf("second, not acked: %q, want held", s)
		}
		// The ack of the second finds the new hold and cancels it.
		r, err = e.svc.Ack(ctx, "ann", "c1", second)
		if err != nil || !slices.Equal(r.Marked, []string{second}) {
			t.Fatalf("ack of the second: %+v %v", r, err)
		}
		if s := e.status(second, "ann"); s != "cancelled (seen)" {
			t.Errorf("second: %q", s)
		}
	})
}

// More pending notifications than one snapshot lists: the commit reads
// the unseen index itself and marks them all.
func TestSeenAckOfManyPending(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		var ids []string
		e.update(func(tx *store.Tx) error {
			t0 := e.clk.Now()
			for i := range model.MaxSeenCheck + 5 {
				id := store.NewID(t0.Add(time.Duration(i) * time.Millisecond))
				m := model.Message{ID: id, Conversation: "c1", Author: "agent", Channel: model.ChannelWeb, Text: "x", Created: t0}
				if err := model.AppendMessage(tx, &m); err != nil {
					return err
				}
				if err := model.AddNotification(tx, model.Notification{Person: "ann", Message: id, Conversation: "c1", Reason: "test", Created: t0}); err != nil {
					return err
				}
				ids = append(ids, id)
			}
			return nil
		})
		upTo := ids[len(ids)-2]
		r, err := e.svc.Ack(context.Background(), "ann", "c1", upTo)
		if err != nil || !slices.Equal(r.Marked, ids[:len(ids)-1]) {
			t.Fatalf("ack: %d marked, want %d; %v", len(r.Marked), len(ids)-1, err)
		}
		e.view(func(tx *store.Tx) error {
			if _, unread, _ := model.Inbox(tx, "ann", 1); unread != 1 {
				t.Errorf("unread after the ack: %d, want 1", unread)
			}
			return nil
		})
	})
}

func TestSeenAckUnknowns(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := e.post("words")
		if _, err := e.svc.Ack(ctx, "nobody", "c1", m); !errorsIsNotFound(err) {
			t.Errorf("unknown person: %v", err)
		}
		if _, err := e.svc.Ack(ctx, "ann", "c9", m); !errorsIsNotFound(err) {
			t.Errorf("unknown conversation: %v", err)
		}
		// An ID that is no message of c1 sorts after m: it must mark nothing.
		r, err := e.svc.Ack(ctx, "ann", "c1", m+"z")
		if err != nil || !r.UnknownMessage || len(r.Marked) != 0 || r.Wrote {
			t.Errorf("unknown message: %+v %v", r, err)
		}
		if s := e.status(m, "ann"); s != "held" {
			t.Errorf("after acks of unknowns: %q, want held", s)
		}
	})
}

func errorsIsNotFound(err error) bool { return errors.Is(err, model.ErrNotFound) }

// An ack's commit takes the held email decoded before it began when the
// record it reads is the one the last ack wrote, and decodes it itself
// when the record changed since (here a new message joined the held
// email): what it writes is the same either way.
func TestSeenAckTakesTheHeldEmailDecodedBeforeItsCommit(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		a, b, c := e.post("first words"), e.post("second words"), e.post("third words")
		ack := func(id string) {
			t.Helper()
			if r, err := e.svc.Ack(ctx, "ann", "c1", id); err != nil || !slices.Equal(r.Marked, []string{id}) {
				t.Fatalf("ack of %s: %+v %v", id, r, err)
			}
		}
		ack(a)
		d := e.post("fourth words") // joins the held email: its record changes
		hits := decodedJobs.hits.Load()
		ack(b)
		if n := decodedJobs.hits.Load() - hits; n != 0 {
			t.Errorf("the ack after a new message took %d records decoded before, want 0 (the record changed)", n)
		}
		ack(c)
		if n := decodedJobs.hits.Load() - hits; n != 1 {
			t.Errorf("the next ack took %d records decoded before its commit, want 1", n)
		}
		for id, want := range map[string]string{a: "cancelled (seen)", b: "cancelled (seen)", c: "cancelled (seen)", d: "held"} {
			if s := e.status(id, "ann"); s != want {
				t.Errorf("%s: %q, want %q", id, s, want)
			}
		}
		ack(d)
		if got, want := e.statuses(), []string{"held", "cancelled (seen)"}; !slices.Equal(got, want) {
			t.Errorf("journal = %q, want %q", got, want)
		}
	})
}

// The job a seen-ack keeps with the record it wrote (decodedJobs) is the
// one GetJob decodes from that record: the next ack takes it instead of
// decoding, so it must not differ in anything a commit could see.
func TestKeptJobIsTheDecodedOne(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		first := e.post("first words")
		e.post("second words")
		e.post("third words")
		if r, err := e.svc.Ack(context.Background(), "ann", "c1", first); err != nil || !slices.Equal(r.Marked, []string{first}) {
			t.Fatalf("ack: %+v %v", r, err)
		}
		var id []byte
		e.view(func(tx *store.Tx) error {
			id = tx.Get(bHeld, pairKey("ann", "c1"))
			return nil
		})
		decodedJobs.mu.Lock()
		kept := decodedJobs.jobs[string(id)]
		decodedJobs.mu.Unlock()
		if kept == nil || kept.job == nil {
			t.Fatalf("held email %s: kept %+v, want its record and job", id, kept)
		}
		decoded, err := decodeJob(string(id), kept.raw)
		if err != nil {
			t.Fatal(err)
		}
		k, d := *kept.job, decoded
		if !k.Until.Equal(d.Until) || !k.Next.Equal(d.Next) || !k.Due.Equal(d.Due) || !k.Created.Equal(d.Created) || !k.Updated.Equal(d.Updated) {
			t.Errorf("times: kept %+v, decoded %+v", k, d)
		}
		for _, j := range []*Job{&k, &d} {
			j.Until, j.Next, j.Due, j.Created, j.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
		}
		if !reflect.DeepEqual(k, d) {
			t.Errorf("kept  %+v\ndecoded %+v", k, d)
		}
		if len(k.Messages) != 2 || len(k.Dropped) != 1 {
			t.Errorf("kept job holds %d messages and dropped %d, want 2 and 1", len(k.Messages), len(k.Dropped))
		}
	})
}

// An ack that shrinks a held email without emptying it writes only what
// changes: no delete of the job's lease key (a held job has none), and
// no sequence value or last key drawn for the journal (it appends
// nothing); the ack that empties it still journals the cancel. On
// PostgreSQL each of those cost an index probe, the sequence a statement
// per commit (store.DB.RowsSent counts the deletes sent).
func TestSeenAckThatShrinksWritesNoLeaseKeyNorJournalDraw(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnvOn(t, db)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	// The journal's sequence (store: kvseq_ and the bucket's name in hex).
	drawn := func() int64 {
		var v int64
		if err := conn.QueryRow(context.Background(), `SELECT last_value FROM kvseq_`+hex.EncodeToString([]byte("journal"))).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	ctx := context.Background()
	ids := []string{e.post("first words"), e.post("second words"), e.post("third words")}
	ack := func(i int) {
		t.Helper()
		if r, err := e.svc.Ack(ctx, "ann", "c1", ids[i]); err != nil || !slices.Equal(r.Marked, ids[i:i+1]) {
			t.Fatalf("ack %d: %+v %v", i, r, err)
		}
	}
	ack(0) // the job's record is kept from here on
	seq, sent := drawn(), db.RowsSent()
	ack(1)
	if d := db.RowsSent().Deletes - sent.Deletes; d != 1 {
		t.Errorf("the second ack sent %d deletes, want 1 (its unseen index key; the held job has no lease key)", d)
	}
	// Its delivery record, known present, is updated, not upserted.
	if rs := db.RowsSent(); rs.Upserts != sent.Upserts || rs.Updates-sent.Updates != 3 {
		t.Errorf("the second ack sent %d upserts and %d updates, want 0 and 3 (notification, delivery, job)", rs.Upserts-sent.Upserts, rs.Updates-sent.Updates)
	}
	// Its commit reads the notification and the held job its snapshot
	// found, not the held index again (SeenPlan).
	if r := db.RowsSent().Reads - sent.Reads; r != 2 {
		t.Errorf("the second ack's commit read %d keys, want 2 (its notification, the held job)", r)
	}
	if s := drawn(); s != seq {
		t.Errorf("the second ack drew %d journal sequence values, want none (it cancels nothing)", s-seq)
	}
	ack(2)
	if got, want := e.statuses(), []string{"held", "cancelled (seen)"}; !slices.Equal(got, want) {
		t.Errorf("journal = %q, want %q", got, want)
	}
}

// The hint SeenPlan takes from the record kept may be stale: a job
// shrunk meanwhile by another writer (another node's ack) is emptied by
// an ack whose plan declared no journal reads. The commit draws and
// reads them itself, and journals the cancel as ever.
func TestSeenAckCancelsWhenTheKeptRecordIsStale(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		first, second, third := e.post("first words"), e.post("second words"), e.post("third words")
		if _, err := e.svc.Ack(ctx, "ann", "c1", first); err != nil {
			t.Fatal(err)
		}
		// Another writer marks the third message seen and drops it from
		// the held email: the record kept here still holds it.
		e.update(func(tx *store.Tx) error {
			if _, err := model.MarkSeenOf(tx, "ann", "c1", []string{third}, e.clk.Now()); err != nil {
				return err
			}
			id := tx.Get(bHeld, pairKey("ann", "c1"))
			j, err := GetJob(tx, string(id))
			if err != nil {
				return err
			}
			j.Messages = slices.DeleteFunc(j.Messages, func(m string) bool { return m == third })
			j.Dropped = append(j.Dropped, third)
			return saveJob(tx, &j, e.clk.Now())
		})
		r, err := e.svc.Ack(ctx, "ann", "c1", second)
		if err != nil || !slices.Equal(r.Marked, []string{second}) {
			t.Fatalf("ack of the second: %+v %v", r, err)
		}
		if got, want := e.statuses(), []string{"held", "cancelled (seen)"}; !slices.Equal(got, want) {
			t.Errorf("journal = %q, want %q", got, want)
		}
		if s := e.status(second, "ann"); s != "cancelled (seen)" {
			t.Errorf("second: %q", s)
		}
	})
}

// keptOf returns the entry decodedJobs keeps for ann's held email of c1.
func keptOf(t *testing.T, e *env) *decodedJob {
	t.Helper()
	var id []byte
	e.view(func(tx *store.Tx) error {
		id = tx.Get(bHeld, pairKey("ann", "c1"))
		return nil
	})
	decodedJobs.mu.Lock()
	defer decodedJobs.mu.Unlock()
	kept := decodedJobs.jobs[string(id)]
	if kept == nil || kept.job == nil {
		t.Fatalf("held email %s: nothing kept", id)
	}
	return kept
}

// An ack that takes the job the previous ack kept changes a copy: the job
// kept before keeps its lists, and the one kept after shares no array
// with it (the ack keeps the job it wrote without cloning its lists
// again, so they must be its own).
func TestAckChangesNoJobKeptBefore(t *testing.T) {
	stores(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		m := []string{e.post("one"), e.post("two"), e.post("three"), e.post("four")}
		if _, err := e.svc.Ack(ctx, "ann", "c1", m[0]); err != nil {
			t.Fatal(err)
		}
		before := keptOf(t, e)
		msgs, dropped := slices.Clone(before.job.Messages), slices.Clone(before.job.Dropped)
		hits := decodedJobs.hits.Load()
		if _, err := e.svc.Ack(ctx, "ann", "c1", m[1]); err != nil {
			t.Fatal(err)
		}
		if decodedJobs.hits.Load() == hits {
			t.Fatal("the second ack did not take the kept job")
		}
		if !slices.Equal(before.job.Messages, msgs) || !slices.Equal(before.job.Dropped, dropped) {
			t.Errorf("job kept before changed: messages %v dropped %v, were %v %v", before.job.Messages, before.job.Dropped, msgs, dropped)
		}
		after := keptOf(t, e)
		if !slices.Equal(after.job.Messages, m[2:]) || !slices.Equal(after.job.Dropped, m[:2]) {
			t.Errorf("job kept after: messages %v dropped %v", after.job.Messages, after.job.Dropped)
		}
		before.job.Messages = append(before.job.Messages[:0], "x", "x", "x", "x")
		before.job.Dropped = append(before.job.Dropped[:0], "x", "x", "x", "x")
		if slices.Contains(after.job.Messages, "x") || slices.Contains(after.job.Dropped, "x") {
			t.Errorf("jobs kept before and after share their lists: %v %v", after.job.Messages, after.job.Dropped)
		}
	})
}

// What jobCache.get hands out is a copy: changing its lists, in place or
// by appending, changes neither the job kept nor the next get's.
func TestJobCacheGetIsACopy(t *testing.T) {
	var c jobCache
	msgs := make([]string, 2, 8)
	copy(msgs, []string{"m1", "m2"})
	dropped := make([]string, 1, 8)
	dropped[0] = "m0"
	c.keep("j1", []byte("raw"), &Job{ID: "j1", Messages: msgs, Dropped: dropped})
	a, ok := c.get("j1", []byte("raw"))
	if !ok {
		t.Fatal("not kept")
	}
	a.Messages[0] = "changed"
	a.Dropped = append(a.Dropped, "appended")
	b, _ := c.get("j1", []byte("raw"))
	if !slices.Equal(b.Messages, []string{"m1", "m2"}) || !slices.Equal(b.Dropped, []string{"m0"}) {
		t.Errorf("second get: %v %v", b.Messages, b.Dropped)
	}
	b.Dropped = append(b.Dropped, "other")
	if a.Dropped[1] != "appended" {
		t.Errorf("two gets share Dropped's array: %v", a.Dropped)
	}
	if _, ok := c.get("j1", []byte("other raw")); ok {
		t.Error("a job taken for another record")
	}
}
