package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/auth/dnstest"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
	"github.com/deskmail/deskmail/threading"
)

// pipeFixture is the inbound path with real parts: bbolt in a temp
// folder, the real steps, the sender checks asking a real DNS server on
// 127.0.0.1 through the caching resolver.
type pipeFixture struct {
	db   *store.DB
	dns  *dnstest.Server
	step *intake.InboundStep
	// stepOn builds the step over another handle of the store (a second
	// node on a shared database).
	stepOn func(db *store.DB) *intake.InboundStep
	recv   *inbound.Receiver
	runs   []func()
}

func newPipeFixture(t *testing.T) *pipeFixture {
	t.Helper()
	return newPipeFixtureOn(t, func(dir string) (*store.DB, error) { return store.Open(dir, store.Options{}) })
}

// newPipeFixtureOn is newPipeFixture on the store that open returns.
func newPipeFixtureOn(t *testing.T, open func(dir string) (*store.DB, error)) *pipeFixture {
	t.Helper()
	dir := t.TempDir()
	db, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := dnstest.Start()
	if err != nil {
		t.Fatal(err)
	}
	res, err := auth.NewDNS(srv.Addr, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := threading.LoadOrCreateKeyring(dir)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.Real{}
	err = db.Update(context.Background(), func(tx *store.Tx) error {
		if err := model.PutPerson(tx, model.Person{ID: "agent", Kind: notify.KindUser, Emails: []string{"agent@help.test"}, Settings: notify.DefaultSettings()}); err != nil {
			return err
		}
		return model.PutConversation(tx, &model.Conversation{ID: "c1", Kind: model.External, Followers: []string{"agent"}, RootID: "root@help.test"})
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &pipeFixture{db: db, dns: srv}
	f.stepOn = func(db *store.DB) *intake.InboundStep {
		return &intake.InboundStep{DB: db,
			Classify: &intake.Classifier{DB: db, Clock: clk, Guard: loopguard.New(loopguard.Options{})},
			Thread: &intake.Threader{Keyring: keys, Clock: clk, ReplyDomains: []string{"help.test"}, Policy: intake.PolicyQuarantine,
				SupportAddresses: []string{"help@help.test"},
				Auth:             &auth.Checker{Resolver: res, Budget: time.Minute}}}
	}
	f.step = f.stepOn(db)
	f.recv = &inbound.Receiver{DB: db, Clock: clk, Hostname: "mx.help.test"}
	t.Cleanup(func() {
		srv.Release()
		for _, stop := range f.runs {
			stop()
		}
		srv.Close()
		db.Close()
	})
	return f
}

// run starts a pipeline (a node) on the fixture's store.
func (f *pipeFixture) run(node string, tune func(p *Pipeline)) *Pipeline {
	return f.runOn(f.db, node, tune)
}

// runOn starts a pipeline (a node) on db, a handle of the fixture's store.
func (f *pipeFixture) runOn(db *store.DB, node string, tune func(p *Pipeline)) *Pipeline {
	step := f.step
	if db != f.db {
		step = f.stepOn(db)
	}
	p := &Pipeline{DB: db, Log: slog.New(slog.NewTextHandler(testLogOut, nil)), Step: step.Step,
		Workers: 8, Node: node, RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, Rescan: 50 * time.Millisecond}
	if tune != nil {
		tune(p)
	}
	prev := f.recv.Stored
	f.recv.Stored = func(id string) {
		if prev != nil {
			prev(id)
		}
		p.Wake(id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	f.runs = append(f.runs, func() { cancel(); <-done })
	return p
}

// send stores an email as the SMTP server would and returns its ID.
func (f *pipeFixture) send(t *testing.T, from, to, msgID, refs string) string {
	t.Helper()
	raw := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: help\r\nMessage-ID: <%s>\r\n", from, to, msgID)
	if refs != "" {
		raw += "References: " + refs + "\r\n"
	}
	rc, err := f.recv.Receive(context.Background(), inbound.Envelope{MailFrom: from, Rcpts: []string{to},
		RemoteIP: "192.0.2.10", Helo: "mx.client.test", Proto: "ESMTP"}, strings.NewReader(raw+"\r\nhello from "+from+"\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return rc.ID
}

func (f *pipeFixture) pending(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	_ = f.db.View(context.Background(), func(tx *store.Tx) error {
		recs, err := inbound.List(tx, inbound.ListPending, 10000)
		for _, r := range recs {
			out[r.ID] = true
		}
		return err
	})
	return out
}

func (f *pipeFixture) messages(t *testing.T, conv string) []model.Message {
	t.Helper()
	var ms []model.Message
	_ = f.db.View(context.Background(), func(tx *store.Tx) error {
		var err error
		ms, err = model.Messages(tx, conv, 10000)
		return err
	})
	return ms
}

// waitUntil polls cond (bounded); the pipeline runs on other goroutines.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitfor.Until(t, 30*time.Second, what, cond)
}

func TestSlowDNSDelaysOnlyItsOwnEmail(t *testing.T) {
	f := newPipeFixture(t)
	f.dns.Hold(func(name string) bool { return strings.HasSuffix(name, "slow.test") })
	f.run("node", nil)
	slow := f.send(t, "ann@slow.test", "help@help.test", "s@slow.test", "")
	var fast []string
	for i := range 5 {
		fast = append(fast, f.send(t, fmt.Sprintf("c%d@fast%d.test", i, i), "help@help.test", fmt.Sprintf("f%d@fast.test", i), ""))
	}
	waitUntil(t, "the fast emails are in their conversations", func() bool {
		p := f.pending(t)
		for _, id := range fast {
			if p[id] {
				return false
			}
		}
		return true
	})
	if !f.pending(t)[slow] {
		t.Fatal("the email whose lookups hang was processed before its DNS answered")
	}
	f.dns.Release()
	waitUntil(t, "the slow email is processed", func() bool { return len(f.pending(t)) == 0 })
	es, err := journal.Query(context.Background(), f.db, journal.Filter{})
	if err != nil || len(es) != 1+len(fast) {
		t.Fatalf("%d journal entries, %v; want %d", len(es), err, 1+len(fast))
	}
	for _, e := range es {
		if !strings.HasPrefix(e.Action, "created conversation") {
			t.Errorf("%s: %q", e.From, e.Action)
		}
	}
}

func TestOrderKeptInOneConversationWhenTheFirstIsSlow(t *testing.T) {
	f := newPipeFixture(t)
	f.dns.Hold(func(name string) bool { return strings.HasSuffix(name, "slow.test") })
	f.run("node", nil)
	first := f.send(t, "ann@slow.test", "help@help.test", "r1@slow.test", "<root@help.test>")
	second := f.send(t, "bob@fast.test", "help@help.test", "r2@fast.test", "<root@help.test>")
	other := f.send(t, "cy@third.test", "help@help.test", "u@third.test", "")
	waitUntil(t, "an unrelated later email is processed", func() bool { return !f.pending(t)[other] })
	if ms := f.messages(t, "c1"); len(ms) != 0 {
		t.Fatalf("the second reply was appended before the first: %+v", ms)
	}
	f.dns.Release()
	waitUntil(t, "both replies are processed", func() bool { return len(f.pending(t)) == 0 })
	ms := f.messages(t, "c1")
	if len(ms) != 2 || ms[0].Original != first || ms[1].Original != second {
		t.Fatalf("conversation c1 = %+v, want %s then %s", ms, first, second)
	}
}

// Commits that fail for a while (the disk full) leave the emails pending;
// every one ends in its conversation, none "failed".
func TestCommitsFailingForAWhileLoseNothing(t *testing.T) {
	f := newPipeFixture(t)
	var failures atomic.Int32
	f.run("node", func(p *Pipeline) {
		p.BeforeCommit = func(string) error {
			if failures.Add(1) <= 10 {
				return fmt.Errorf("write: %w", syscall.ENOSPC)
			}
			return nil
		}
	})
	var ids []string
	for i := range 20 {
		ids = append(ids, f.send(t, fmt.Sprintf("c%d@x%d.test", i, i), "help@help.test", fmt.Sprintf("m%d@x.test", i), "<root@help.test>"))
	}
	waitUntil(t, "every email is processed", func() bool { return len(f.pending(t)) == 0 })
	if failures.Load() < 10 {
		t.Fatalf("only %d commits were attempted", failures.Load())
	}
	ms := f.messages(t, "c1")
	if len(ms) != len(ids) {
		es, _ := journal.Query(context.Background(), f.db, journal.Filter{})
		for _, e := range es {
			t.Log(e.StoredID, e.Conversation, e.Action)
		}
		t.Fatalf("%d messages in c1, want %d", len(ms), len(ids))
	}
	for i, m := range ms {
		if m.Original != ids[i] {
			t.Errorf("message %d is %s, want %s (arrival order)", i, m.Original, ids[i])
		}
	}
	es, err := journal.Query(context.Background(), f.db, journal.Filter{})
	if err != nil || len(es) != len(ids) {
		t.Fatalf("%d journal entries, %v; want %d", len(es), err, len(ids))
	}
	for _, e := range es {
		if strings.Contains(e.Action, "failed") || e.Conversation != "c1" {
			t.Errorf("%s: %q in %q", e.StoredID, e.Action, e.Conversation)
		}
	}
}

// Two nodes on one store: every email is appended once, in arrival order
// within its conversation.
func TestTwoNodesShareTheWorkWithoutDuplicates(t *testing.T) {
	f := newPipeFixture(t)
	f.run("node-a", nil)
	f.run("node-b", nil)
	checkTwoNodes(t, f)
}

// The same on PostgreSQL with two real nodes: each pipeline has its own
// pool of connections to one database, so only the database (write
// transactions that take turns on its writer lock) keeps the claims, the
// fencing and the order.
func TestTwoNodesShareTheWorkWithoutDuplicatesPostgres(t *testing.T) {
	f, dbB, _ := twoNodesOnPostgres(t)
	f.run("node-a", nil)
	f.runOn(dbB, "node-b", nil)
	checkTwoNodes(t, f)
}

func checkTwoNodes(t *testing.T, f *pipeFixture) {
	t.Helper()
	var ids []string
	for i := range 40 {
		refs := ""
		if i%2 == 0 {
			refs = "<root@help.test>"
		}
		ids = append(ids, f.send(t, fmt.Sprintf("c%d@n%d.test", i, i), "help@help.test", fmt.Sprintf("m%d@n.test", i), refs))
	}
	waitUntil(t, "every email is processed", func() bool { return len(f.pending(t)) == 0 })
	ms := f.messages(t, "c1")
	if len(ms) != 20 {
		t.Fatalf("%d messages in c1, want 20", len(ms))
	}
	for i, m := range ms {
		if m.Original != ids[2*i] {
			t.Errorf("c1 message %d is %s, want %s", i, m.Original, ids[2*i])
		}
	}
	es, err := journal.Query(context.Background(), f.db, journal.Filter{})
	if err != nil || len(es) != len(ids) {
		t.Fatalf("%d journal entries, %v; want %d", len(es), err, len(ids))
	}
	for _, e := range es {
		if strings.HasPrefix(e.Action, "duplicate") || e.Conversation == "" {
			t.Errorf("%s: %q", e.StoredID, e.Action)
		}
	}
}

// A step that crashes on an email sets it aside as failed, kept; the
// others go on; a retry processes it once the cause is gone.
func TestPermanentFailureIsKeptAndRetried(t *testing.T) {
	f := newPipeFixture(t)
	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	p := f.run("node", func(p *Pipeline) {
		step := p.Step
		p.Step = func(ctx context.Context, m inbound.Meta) (intake.Result, error) {
			mu.Lock()
			defer mu.Unlock()
			if broken.Load() && m.MessageID == "<bad@x.test>" {
				panic("a parser bug")
			}
			return step(ctx, m)
		}
	})
	bad := f.send(t, "a@x.test", "help@help.test", "bad@x.test", "")
	good := f.send(t, "b@y.test", "help@help.test", "good@y.test", "")
	waitUntil(t, "both are done with", func() bool { return !f.pending(t)[good] && !f.pending(t)[bad] })
	var recs []inbound.Record
	f.db.View(context.Background(), func(tx *store.Tx) error { recs, _ = inbound.List(tx, inbound.ListFailed, 10); return nil })
	if len(recs) != 1 || recs[0].ID != bad || !strings.Contains(recs[0].Reason, "panicked") {
		t.Fatalf("failed list %+v", recs)
	}
	es, _ := journal.Query(context.Background(), f.db, journal.Filter{})
	if !strings.HasPrefix(es[0].Action, "failed: ") || !strings.Contains(es[0].Action, "deskmail inbound retry "+bad) {
		t.Errorf("journal of the failed email: %q", es[0].Action)
	}
	broken.Store(false)
	if err := f.db.Update(context.Background(), func(tx *store.Tx) error { return Requeue(tx, bad) }); err != nil {
		t.Fatal(err)
	}
	p.Wake(bad)
	waitUntil(t, "the re-queued email is processed", func() bool { return len(f.pending(t)) == 0 })
	es, _ = journal.Query(context.Background(), f.db, journal.Filter{})
	if !strings.HasPrefix(es[0].Action, "created conversation") {
		t.Errorf("after retry: %q", es[0].Action)
	}
}

var testLogOut io.Writer = io.Discard

// A claim left by a crashed earlier run of this node is taken over at
// once; one of another node is respected until its lease runs out.
func TestClaimsOfDeadRunsAndOtherNodes(t *testing.T) {
	testClaimsOfDeadRunsAndOtherNodes(t, 0)
}

// A claim of another node is not in the due index: the full scan that
// finds it once its lease runs out (its node died) comes when the lease
// ends, not only at the next Rescan.
func TestExpiredClaimIsFoundBeforeTheRescan(t *testing.T) {
	testClaimsOfDeadRunsAndOtherNodes(t, time.Hour)
}

// testClaimsOfDeadRunsAndOtherNodes runs a pipeline (Rescan rescan, zero:
// the default) beside a stale claim of its own node's crashed run and a
// live one of another node.
func testClaimsOfDeadRunsAndOtherNodes(t *testing.T, rescan time.Duration) {
	f := newPipeFixture(t)
	clk := clock.NewFake(time.Now())
	mine := f.send(t, "a@x.test", "help@help.test", "mine@x.test", "")
	theirs := f.send(t, "b@y.test", "help@help.test", "theirs@y.test", "")
	err := f.db.Update(context.Background(), func(tx *store.Tx) error {
		if _, err := inbound.Claim(tx, mine, "node/crashed-run", clk.Now(), time.Hour, nil); err != nil {
			return err
		}
		_, err := inbound.Claim(tx, theirs, "other-node/run", clk.Now(), 2*time.Minute, nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p := f.run("node", func(p *Pipeline) {
		p.Clock = clk
		if rescan != 0 {
			p.Rescan = rescan
		}
	})
	// Taken over by the first full scan, which saw the other lease too.
	waitUntil(t, "this node's stale claim is taken over", func() bool { return !f.pending(t)[mine] })
	if !f.pending(t)[theirs] {
		t.Fatal("another node's live claim was taken")
	}
	clk.Advance(2*time.Minute + time.Second)
	p.Wake("")
	waitUntil(t, "the other node's expired claim is taken over", func() bool { return !f.pending(t)[theirs] })
}

// An email whose stored bytes are gone can never be processed: it is set
// aside as failed at once (not retried for ever), and the others go on.
func TestStoredCopyGoneIsFailed(t *testing.T) {
	f := newPipeFixture(t)
	f.recv.Limits.SpillBytes = 64 // spool every body to a file
	gone := f.send(t, "a@x.test", "help@help.test", "gone@x.test", "")
	if err := os.Remove(filepath.Join(f.db.Dir(), "spool", gone)); err != nil {
		t.Fatal(err)
	}
	ok := f.send(t, "b@y.test", "help@help.test", "ok@y.test", "")
	f.run("node", nil)
	waitUntil(t, "both are done with", func() bool { p := f.pending(t); return !p[gone] && !p[ok] })
	var recs []inbound.Record
	f.db.View(context.Background(), func(tx *store.Tx) error { recs, _ = inbound.List(tx, inbound.ListFailed, 10); return nil })
	if len(recs) != 1 || recs[0].ID != gone || recs[0].Attempts != 1 {
		t.Errorf("failed list %+v, want only %s after one attempt", recs, gone)
	}
}

// With bbolt, an email of a conversation queues its commit while the
// earlier email's commit is still running (it is held here inside its
// transaction until then), so one sender's burst shares commits and
// fsyncs; the conversation still gets them in arrival order.
func TestLaterEmailQueuesBehindEarlierCommitOnBolt(t *testing.T) {
	f := newPipeFixture(t)
	// Both stored before the pipeline starts, so one claim takes both:
	// a claim is a commit too, and the held commit would keep it out.
	a := f.send(t, "ann@x1.test", "help@help.test", "m1@x.test", "<root@help.test>")
	b := f.send(t, "bob@x2.test", "help@help.test", "m2@x.test", "<root@help.test>")
	first := make(chan string, 1)
	var once sync.Once
	var passed atomic.Int32
	queued := make(chan struct{})
	f.run("node", func(p *Pipeline) {
		p.afterDeps = func(string) {
			// The first is the earlier email's own (it waits for
			// nothing); the second, the later one's.
			if passed.Add(1) == 2 {
				close(queued)
			}
		}
		p.BeforeCommit = func(id string) error {
			once.Do(func() {
				first <- id
				select {
				case <-queued:
				case <-time.After(10 * time.Second):
					t.Error("the later email waited for the earlier commit to return")
				}
			})
			return nil
		}
	})
	waitUntil(t, "both emails are processed", func() bool { return len(f.pending(t)) == 0 })
	if got := <-first; got != a {
		t.Fatalf("first commit %s, want %s", got, a)
	}
	ms := f.messages(t, "c1")
	if len(ms) != 2 || ms[0].Original != a || ms[1].Original != b {
		t.Fatalf("conversation c1 = %+v, want %s then %s", ms, a, b)
	}
}

// twoNodesOnPostgres is a fixture on a PostgreSQL database of its own
// (node A's store) and a second store on the same database (node B's),
// closed after the fixture's pipelines stop (its cleanup is registered
// first), and the database's URL.
func twoNodesOnPostgres(t *testing.T) (*pipeFixture, *store.DB, string) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	dbB, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	f := newPipeFixtureOn(t, func(dir string) (*store.DB, error) {
		return store.OpenPostgres(context.Background(), url, dir, store.Options{})
	})
	return f, dbB, url
}
