package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// Two nodes on one PostgreSQL database accept the same email at the same
// moment (a client that retries on the other MX): it is stored once, and
// the other node answers that it is a duplicate of the same stored id.
// Accepts declare their locks (AcceptLocks), so they run side by side and
// only the dedupe lock makes them take turns.
func TestSameEmailOnTwoNodesIsStoredOncePostgres(t *testing.T) {
	url := pgtest.NewDatabase(t)
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	var nodes [2]*Receiver
	for i := range nodes {
		db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		nodes[i] = &Receiver{DB: db, Clock: clk, Hostname: fmt.Sprintf("mx%d.test", i), Limits: Limits{}}
	}
	const rounds = 30
	for i := range rounds {
		msg := fmt.Sprintf("Message-ID: <same-%d@x>\r\nFrom: ann@client.test\r\n\r\nbody %d\r\n", i, i)
		var wg sync.WaitGroup
		var rc [2]Receipt
		var errs [2]error
		for n := range nodes {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rc[n], errs[n] = nodes[n].Receive(context.Background(), env, strings.NewReader(msg))
			}()
		}
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: %v %v", i, errs[0], errs[1])
		}
		if rc[0].Duplicate == rc[1].Duplicate || rc[0].ID != rc[1].ID {
			t.Fatalf("round %d: receipts %+v and %+v; want one stored, one duplicate of it", i, rc[0], rc[1])
		}
	}
	var pending int
	_ = nodes[0].DB.View(context.Background(), func(tx *store.Tx) error { pending = tx.Count(bucketPending); return nil })
	if pending != rounds {
		t.Errorf("%d emails pending; want %d (one per email)", pending, rounds)
	}
}

// LoadWithRaw reads the record and its raw bytes at once; OpenRaw and
// ReadRaw with its context give the bytes OpenRaw reads from the store, without a
// read of its own (one round trip for both on PostgreSQL), inline or
// spooled, and the context of one message gives nothing for another.
func TestLoadWithRawGivesWhatOpenRawReads(t *testing.T) {
	stores := map[string]*store.DB{"postgres": pgtest.Open(t, t.TempDir(), store.Options{})}
	bolt, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close() })
	stores["bbolt"] = bolt
	read := func(rc interface{ Read([]byte) (int, error) }) string {
		var b strings.Builder
		buf := make([]byte, 512)
		for {
			n, err := rc.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				return b.String()
			}
		}
	}
	for name, db := range stores {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
			r := &Receiver{DB: db, Clock: clk, Hostname: "mx.test", Limits: Limits{SpillBytes: 4096}}
			small, err := r.Receive(context.Background(), env, strings.NewReader("Subject: s\r\n\r\nsmall\r\n"))
			if err != nil {
				t.Fatal(err)
			}
			big, err := r.Receive(context.Background(), env, strings.NewReader("Subject: b\r\n\r\n"+strings.Repeat("z", 5000)))
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{small.ID, big.ID} {
				before := db.RoundTrips()
				ctx, m, err := LoadWithRaw(context.Background(), db, id)
				if err != nil || m.ID != id {
					t.Fatalf("LoadWithRaw %s: %v, %+v", id, err, m)
				}
				rc, err := OpenRaw(ctx, db, m)
				if err != nil {
					t.Fatal(err)
				}
				got := read(rc)
				if b, err := ReadRaw(ctx, db, m, 1<<20); err != nil || string(b) != got {
					t.Errorf("%s: ReadRaw with LoadWithRaw's context: %q, %v", id, b[:min(len(b), 60)], err)
				}
				if b, err := ReadRaw(ctx, db, m, 10); err != nil || string(b) != got[:10] {
					t.Errorf("%s: ReadRaw cut to 10: %q, %v", id, b, err)
				}
				if trips := db.RoundTrips() - before; name == "postgres" && id == small.ID && trips != 1 {
					t.Errorf("record and inline bytes: %d round trips, want 1", trips)
				}
				plain, err := Load(context.Background(), db, id)
				if err != nil {
					t.Fatal(err)
				}
				rc2, err := OpenRaw(context.Background(), db, plain)
				if err != nil {
					t.Fatal(err)
				}
				want := read(rc2)
				if got != want || !strings.Contains(got, "Subject: ") {
					t.Errorf("%s: LoadWithRaw's bytes %q, OpenRaw's %q", id, got[:min(len(got), 60)], want[:min(len(want), 60)])
				}
				// The context carries one message's bytes, not another's.
				if id == big.ID {
					ctxSmall, _, _ := LoadWithRaw(context.Background(), db, small.ID)
					rc3, err := OpenRaw(ctxSmall, db, m)
					if err != nil || read(rc3) != want {
						t.Errorf("the small message's context opened the big one wrong: %v", err)
					}
				}
			}
			if _, _, err := LoadWithRaw(context.Background(), db, "nosuch"); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown id: %v, want ErrNotFound", err)
			}
		})
	}
}

// A commit's first round trip reads each ordering key of its email in
// one range with the entries before it (CommitReads): EarlierBlocker,
// CheckClaim and Finish then read nothing more, the keys read by name
// are the state and the record alone (a read by name of each ordering
// entry beside its range was one index lookup more per key), and an
// earlier email of the same sender still holds the later one back.
func TestCommitReadsOrderingEntriesWithTheirRangesPostgres(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	clk := clock.NewFake(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	r := &Receiver{DB: db, Clock: clk, Hostname: "mx.test", Limits: Limits{}}
	first := storeOne(t, r, "ann@client.test", "a1@client.test", "")
	second := storeOne(t, r, "ann@client.test", "a2@client.test", "")
	now := clk.Now()
	commit := func(id string) (Blocker, int64, int64) {
		t.Helper()
		var st State
		if err := update(t, db, func(tx *store.Tx) (err error) { st, err = Claim(tx, id, "w", now, time.Minute, nil); return err }); err != nil {
			t.Fatal(err)
		}
		if len(st.Keys) < 2 {
			t.Fatalf("ordering keys %q; want the sender's and the Message-ID's", st.Keys)
		}
		reads, trips := db.RowsSent().Reads, db.RoundTrips()
		var b Blocker
		err := db.Update(context.Background(), func(tx *store.Tx) error {
			cur, err := CheckClaim(tx, id, "w", st.Fence)
			if err != nil {
				return err
			}
			if b, err = EarlierBlocker(tx, id, cur, now); err != nil || b.ID != "" {
				return err
			}
			return Finish(tx, id, "w", st.Fence)
		}, CommitReads(id, st)...)
		if err != nil {
			t.Fatal(err)
		}
		return b, db.RowsSent().Reads - reads, db.RoundTrips() - trips
	}
	if b, _, _ := commit(second); b.ID != first {
		t.Fatalf("the second email's commit found blocker %q; want the first, %s", b.ID, first)
	}
	b, reads, trips := commit(first)
	if b.ID != "" {
		t.Fatalf("the first email held back by %q", b.ID)
	}
	if reads != 2 || trips != 2 {
		t.Errorf("the commit read %d keys by name in %d round trips; want 2 (state, record) in 2 (reads, writes)", reads, trips)
	}
	left, err := store.ViewValue(context.Background(), db, func(tx *store.Tx) (int, error) { return tx.Count(bucketOrder), nil })
	if err != nil {
		t.Fatal(err)
	}
	if want := len(stateOf(t, db, second).Keys); left != want {
		t.Errorf("%d ordering entries left; want the second email's %d (the first's deleted)", left, want)
	}
}
