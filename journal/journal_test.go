package journal

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/store"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func fill(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	entries := []Entry{
		{Time: t0.Add(-80 * time.Hour), Direction: In, Status: StatusReceived, EnvelopeFrom: "old@x.test"},
		{Time: t0.Add(-2 * time.Hour), Direction: In, Status: StatusReceived, EnvelopeFrom: "Ann@Client.test", EnvelopeTo: []string{"help@example.test"}, Class: "human"},
		{Time: t0.Add(-1 * time.Hour), Direction: In, Status: StatusRejected, EnvelopeFrom: "spam@x.test", EnvelopeTo: []string{"v@elsewhere.test"}, Reason: "relaying denied"},
		{Time: t0.Add(-30 * time.Minute), Direction: Out, Status: "sent", EnvelopeFrom: "bounce+1@example.test", EnvelopeTo: []string{"ann@client.test"}},
		{Time: t0.Add(-10 * time.Minute), Direction: In, Status: StatusReceived, From: "Bob <bob@y.test>", EnvelopeFrom: "", Class: "bounce"},
	}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		for i := range entries {
			if err := Append(tx, &entries[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func query(t *testing.T, db *store.DB, f Filter) []Entry {
	t.Helper()
	es, err := Query(context.Background(), db, f)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func TestQueryFilters(t *testing.T) {
	db := fill(t)
	since := t0.Add(-72 * time.Hour)
	cases := []struct {
		name string
		f    Filter
		want int
	}{
		{"72 hours", Filter{Since: since}, 4},
		{"everything", Filter{}, 5},
		{"incoming", Filter{Since: since, Direction: In}, 3},
		{"outgoing", Filter{Since: since, Direction: Out}, 1},
		{"status", Filter{Since: since, Status: "REJECTED"}, 1},
		{"address is a case-insensitive substring of any party", Filter{Since: since, Address: "ann@client"}, 2},
		{"address in the From header", Filter{Address: "bob@y.test"}, 1},
		{"class", Filter{Class: "bounce"}, 1},
		{"limit keeps the newest", Filter{Limit: 2}, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := query(t, db, c.f); len(got) != c.want {
				t.Errorf("%d entries, want %d: %+v", len(got), c.want, got)
			}
		})
	}
	all := query(t, db, Filter{})
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Error("entries not oldest first")
		}
	}
	if got := query(t, db, Filter{Limit: 2}); got[1].ID != all[4].ID {
		t.Error("limit did not keep the newest")
	}
	after := query(t, db, Filter{After: all[2].ID})
	if len(after) != 2 || after[0].ID != all[3].ID {
		t.Errorf("after cursor = %+v", after)
	}
}

func TestUpdateRewritesEntry(t *testing.T) {
	db := fill(t)
	e := query(t, db, Filter{Class: "human"})[0]
	err := db.Update(context.Background(), func(tx *store.Tx) error {
		return Update(tx, e.ID, func(e *Entry) { e.Action = "appended to conversation c1" })
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, db, Filter{Class: "human"}); got[0].Action != "appended to conversation c1" || got[0].ID != e.ID {
		t.Errorf("after update: %+v", got[0])
	}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		return Update(tx, "00", func(*Entry) {})
	})
	if err == nil {
		t.Error("bad id accepted")
	}
}

func TestPrunerOnFakeClock(t *testing.T) {
	db := fill(t)
	clk := clock.NewFake(t0)
	var alsoCalled time.Time
	p := &Pruner{DB: db, Clock: clk, Retention: 72 * time.Hour, Interval: time.Minute,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Also: []func(context.Context, time.Time) (int, error){
			func(_ context.Context, before time.Time) (int, error) { alsoCalled = before; return 0, nil },
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	waitFor(t, func() bool { return clk.Waiters() == 1 })
	if n := len(query(t, db, Filter{})); n != 4 {
		t.Errorf("after the first pass %d entries, want 4 (the 80-hour-old one pruned)", n)
	}
	if !alsoCalled.Equal(t0.Add(-72 * time.Hour)) {
		t.Errorf("extra pruner got %v", alsoCalled)
	}
	// 71 hours and a minute later the 2- and 1-hour-old entries are past 72
	// hours; the 30 and 10 minute old ones stay.
	clk.Advance(71*time.Hour + time.Minute)
	waitFor(t, func() bool { return clk.Waiters() == 1 && len(query(t, db, Filter{})) == 2 })
	cancel()
	<-done
}

// waitFor polls a condition that another goroutine makes true; bounded.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	waitfor.Until(t, 5*time.Second, "the condition holds", cond)
}

func TestKeysGrowInCommitOrder(t *testing.T) {
	db := fill(t)
	before := query(t, db, Filter{})
	cursor := before[len(before)-1].ID
	// An entry whose time is older than the newest one (it began first,
	// or the clock stepped back) is committed now: a follower must see it.
	late := Entry{Time: t0.Add(-5 * time.Hour), Direction: In, Status: StatusReceived, EnvelopeFrom: "late@x.test"}
	if err := db.Update(context.Background(), func(tx *store.Tx) error { return Append(tx, &late) }); err != nil {
		t.Fatal(err)
	}
	got := query(t, db, Filter{After: cursor})
	if len(got) != 1 || got[0].EnvelopeFrom != "late@x.test" || !got[0].Time.Equal(late.Time) {
		t.Errorf("after the cursor: %+v", got)
	}
}
