package pipeline

import (
	"bytes"
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/store"
)

// On PostgreSQL a worker does not read the email it was handed: the
// claim's try-lock round trip read its record and raw bytes after the
// lock (inbound.LockForClaimLoading), so the step starts with no round
// trip after the claim's and its ReadRaw takes none. (Before, each
// worker read its email in a round trip of its own: a set_config and
// the read, two statements per email.) The claim itself takes three
// round trips, as before it read them: these reads add none.
func TestClaimReadsTheEmailItHandsOutPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	id := f.send(t, "c@n.test", "help@help.test", "m@n.test", "")
	var before, claimed, stepped, read atomic.Int64
	var raw atomic.Value
	f.runOn(dbB, "node-b", func(p *Pipeline) {
		p.Rescan, p.Workers = time.Hour, 1 // one email, one claim: nothing else runs meanwhile
		p.beforeClaim = func() { before.Store(dbB.RoundTrips()) }
		p.afterClaim = func() { claimed.Store(dbB.RoundTrips()) }
		step := p.Step
		p.Step = func(ctx context.Context, m inbound.Meta) (intake.Result, error) {
			stepped.Store(dbB.RoundTrips())
			if m.ID != id {
				t.Errorf("step given %q, want %q", m.ID, id)
			}
			b, err := inbound.ReadRaw(ctx, dbB, m, 1<<20)
			if err != nil {
				t.Errorf("read raw: %v", err)
			}
			raw.Store(b)
			read.Store(dbB.RoundTrips())
			return step(ctx, m)
		}
	})
	waitUntil(t, "the email is processed", func() bool { return len(f.pending(t)) == 0 })
	if n := claimed.Load() - before.Load(); n != 3 {
		t.Errorf("the claim took %d round trips, want 3", n)
	}
	if n := stepped.Load() - claimed.Load(); n != 0 {
		t.Errorf("%d round trips between the claim's commit and the step, want 0", n)
	}
	if n := read.Load() - stepped.Load(); n != 0 {
		t.Errorf("the step's ReadRaw took %d round trips, want 0", n)
	}
	if b, _ := raw.Load().([]byte); !bytes.Contains(b, []byte("hello from c@n.test")) || !bytes.Contains(b, []byte("Message-ID: <m@n.test>")) {
		t.Errorf("ReadRaw gave %q, want the email's content", b)
	}
}

// The commit of an email checks that its record is still the one the
// claim read and gave the step: a record rewritten meanwhile (nothing
// but that commit should) gives the email back, and the next claim hands
// out the record as it is now; nothing is committed from the stale one.
func TestCommitGivesBackAnEmailWhoseRecordChangedPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	id := f.send(t, "c@n.test", "help@help.test", "m@n.test", "")
	var mu sync.Mutex
	var subjects []string
	var rewritten atomic.Bool
	f.runOn(dbB, "node-b", func(p *Pipeline) {
		p.Rescan, p.Workers = time.Hour, 1
		p.afterClaim = func() {
			if rewritten.Swap(true) {
				return
			}
			// Between the claim and the commit, once.
			if err := dbB.Update(context.Background(), func(tx *store.Tx) error {
				return inbound.Annotate(tx, id, func(m *inbound.Meta) { m.Subject = "rewritten" })
			}); err != nil {
				t.Error(err)
			}
		}
		step := p.Step
		p.Step = func(ctx context.Context, m inbound.Meta) (intake.Result, error) {
			mu.Lock()
			subjects = append(subjects, m.Subject)
			mu.Unlock()
			return step(ctx, m)
		}
	})
	waitUntil(t, "the email is processed", func() bool { return len(f.pending(t)) == 0 })
	mu.Lock()
	defer mu.Unlock()
	if len(subjects) != 2 || subjects[0] != "help" || subjects[1] != "rewritten" {
		t.Errorf("the step was given the subjects %q; want [help rewritten]: the stale record's result given back, the current one's committed", subjects)
	}
}

// An email stored before its state recorded ordering keys takes them
// from the record the claim read, not from a read of its own.
func TestStartTakesOldKeysFromTheClaimsReadPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	id := f.send(t, "c@n.test", "help@help.test", "m@n.test", "")
	var loaded map[string]inbound.Loaded
	var st inbound.State
	if err := dbB.Update(context.Background(), func(tx *store.Tx) error {
		var err error
		_, loaded, err = inbound.LockForClaimLoading(tx, []string{id}, 1<<20)
		return err
	}, store.Locks()); err != nil {
		t.Fatal(err)
	}
	m, err := inbound.Load(context.Background(), dbB, id)
	if err != nil {
		t.Fatal(err)
	}
	l := loaded[id]
	p := &Pipeline{DB: dbB}
	p.init()
	before := dbB.RoundTrips()
	task := p.start(context.Background(), inbound.Candidate{ID: id, State: st}, &l)
	if n := dbB.RoundTrips() - before; n != 0 {
		t.Errorf("start took %d round trips, want 0", n)
	}
	if want := inbound.MetaOrderKeys(m); len(task.keys) == 0 || !slices.Equal(task.keys, want) {
		t.Errorf("keys %q, want %q", task.keys, want)
	}
}
