package inbound

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/store"
)

func storeOne(t *testing.T, r *Receiver, from, msgID, refs string) string {
	t.Helper()
	msg := fmt.Sprintf("From: %s\r\nMessage-ID: <%s>\r\n", from, msgID)
	if refs != "" {
		msg += "References: " + refs + "\r\n"
	}
	rc, err := r.Receive(context.Background(), Envelope{MailFrom: from, Rcpts: []string{"help@example.test"}, Proto: "ESMTP"},
		strings.NewReader(msg+"\r\nbody\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return rc.ID
}

func update(t *testing.T, db *store.DB, fn func(tx *store.Tx) error) error {
	t.Helper()
	return db.Update(context.Background(), fn)
}

// A claim is a lease with a fence: when it runs out another worker may
// claim, and the first one's commit then writes nothing.
func TestClaimLeaseAndFence(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	id := storeOne(t, r, "ann@client.test", "a@x", "")
	now := clk.Now()
	var a, b State
	if err := update(t, r.DB, func(tx *store.Tx) (err error) {
		a, err = Claim(tx, id, "node1/p1", now, time.Minute, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error {
		_, err := Claim(tx, id, "node2/p1", now.Add(30*time.Second), time.Minute, nil)
		return err
	}); !errors.Is(err, ErrNotClaimable) {
		t.Fatalf("claimed under a live lease: %v", err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) (err error) {
		b, err = Claim(tx, id, "node2/p1", now.Add(61*time.Second), time.Minute, nil)
		return err
	}); err != nil {
		t.Fatalf("claim after the lease ran out: %v", err)
	}
	if b.Fence <= a.Fence {
		t.Errorf("fence %d after %d", b.Fence, a.Fence)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error { return Finish(tx, id, "node1/p1", a.Fence) }); !errors.Is(err, ErrClaimLost) {
		t.Errorf("the first worker's commit went through: %v", err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error { return Finish(tx, id, "node2/p1", b.Fence) }); err != nil {
		t.Errorf("the claimant's commit: %v", err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error { return Finish(tx, id, "node2/p1", b.Fence) }); !errors.Is(err, ErrClaimLost) {
		t.Errorf("a second finish: %v", err)
	}
}

// A previous run of the same node is dead: its claims are taken over at
// once, not after the lease.
func TestStaleClaimOfThisNodeIsTakenOver(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	id := storeOne(t, r, "ann@client.test", "a@x", "")
	now := clk.Now()
	if err := update(t, r.DB, func(tx *store.Tx) error { _, err := Claim(tx, id, "n1/old", now, time.Hour, nil); return err }); err != nil {
		t.Fatal(err)
	}
	stale := func(o string) bool { return strings.HasPrefix(o, "n1/") && o != "n1/new" }
	// Another node's live claim is not taken at the same instant.
	if err := update(t, r.DB, func(tx *store.Tx) error {
		_, err := Claim(tx, id, "n2/x", now, time.Hour, func(string) bool { return false })
		return err
	}); !errors.Is(err, ErrNotClaimable) {
		t.Errorf("another node's claim over a live one: %v, want ErrNotClaimable", err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error { _, err := Claim(tx, id, "n1/new", now, time.Hour, stale); return err }); err != nil {
		t.Errorf("claim of a dead run kept: %v", err)
	}
}

func TestDeferFailRequeue(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	id := storeOne(t, r, "ann@client.test", "a@x", "")
	now := clk.Now()
	claim := func(at time.Time) (st State, err error) {
		err = update(t, r.DB, func(tx *store.Tx) (err error) { st, err = Claim(tx, id, "w", at, time.Minute, nil); return err })
		return st, err
	}
	st, _ := claim(now)
	if err := update(t, r.DB, func(tx *store.Tx) error {
		_, err := Defer(tx, id, "w", st.Fence, "no space left on device", now.Add(time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := claim(now.Add(30 * time.Second)); !errors.Is(err, ErrNotClaimable) {
		t.Errorf("claimed during its backoff: %v", err)
	}
	var recs []Record
	r.DB.View(context.Background(), func(tx *store.Tx) error { recs, _ = List(tx, ListPending, 10); return nil })
	if len(recs) != 1 || recs[0].Attempts != 1 || recs[0].Reason != "no space left on device" || recs[0].From != "ann@client.test" {
		t.Errorf("pending list %+v", recs)
	}
	st, err := claim(now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error { return Fail(tx, id, "w", st.Fence, "stored copy gone", now) }); err != nil {
		t.Fatal(err)
	}
	r.DB.View(context.Background(), func(tx *store.Tx) error { recs, _ = List(tx, "", 10); return nil })
	if len(recs) != 1 || recs[0].State != ListFailed || recs[0].Reason != "stored copy gone" {
		t.Errorf("after Fail: %+v", recs)
	}
	if _, err := claim(now.Add(time.Hour)); !errors.Is(err, ErrNotClaimable) {
		t.Errorf("a failed email was claimed: %v", err)
	}
	var ids []string
	if err := update(t, r.DB, func(tx *store.Tx) (err error) { ids, err = RequeueFailed(tx); return err }); err != nil || len(ids) != 1 {
		t.Fatalf("requeue: %v %v", ids, err)
	}
	if _, err := claim(now); err != nil {
		t.Errorf("requeued email not claimable at once: %v", err)
	}
	if err := update(t, r.DB, func(tx *store.Tx) error { return Requeue(tx, "nope") }); !errors.Is(err, ErrNotFound) {
		t.Errorf("requeue of an unknown ID: %v", err)
	}
}

// Two emails referring to one thread: the later one may not commit while
// the earlier one is pending, unless that one waits out a backoff.
func TestEarlierBlockerHoldsBackTheSameConversation(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	first := storeOne(t, r, "ann@client.test", "r1@client.test", "<root@help.test>")
	second := storeOne(t, r, "bob@other.test", "r2@other.test", "<root@help.test> <r1@client.test>")
	other := storeOne(t, r, "cy@third.test", "z@third.test", "")
	now := clk.Now()
	check := func(id string) string {
		var blocker string
		r.DB.View(context.Background(), func(tx *store.Tx) error {
			st, _, _ := getState(tx, bucketPending, id)
			b, _ := EarlierBlocker(tx, id, st, now)
			blocker = b.ID
			return nil
		})
		return blocker
	}
	if b := check(second); b != first {
		t.Errorf("second blocked by %q, want %q", b, first)
	}
	if b := check(first); b != "" {
		t.Errorf("first blocked by %q", b)
	}
	if b := check(other); b != "" {
		t.Errorf("an unrelated email blocked by %q", b)
	}
	var st State
	update(t, r.DB, func(tx *store.Tx) (err error) { st, err = Claim(tx, first, "w", now, time.Minute, nil); return err })
	update(t, r.DB, func(tx *store.Tx) error {
		_, err := Defer(tx, first, "w", st.Fence, "io error", now.Add(time.Minute))
		return err
	})
	if b := check(second); b != first {
		t.Errorf("a short trouble of the first email let the second pass: %q", b)
	}
	// Past OrderHold after its 250, an email waiting out a backoff no
	// longer holds its conversation back.
	now = now.Add(OrderHold)
	update(t, r.DB, func(tx *store.Tx) (err error) { st, err = Claim(tx, first, "w", now, time.Minute, nil); return err })
	update(t, r.DB, func(tx *store.Tx) error {
		_, err := Defer(tx, first, "w", st.Fence, "io error", now.Add(time.Minute))
		return err
	})
	if b := check(second); b != "" {
		t.Errorf("blocked by an email in a long backoff: %q", b)
	}
}

func TestBacklogRefusesPastItsBound(t *testing.T) {
	r, _ := newReceiver(t, Limits{})
	r.Backlog = &Backlog{MaxPending: 2}
	storeOne(t, r, "a@x.test", "1@x", "")
	storeOne(t, r, "a@x.test", "2@x", "")
	_, err := r.Receive(context.Background(), env, strings.NewReader("Message-ID: <3@x>\r\n\r\nbody\r\n"))
	var be *BusyError
	if !errors.Is(err, ErrBusy) || !errors.As(err, &be) || be.Pending != 2 {
		t.Fatalf("third email: %v, want ErrBusy at 2 pending", err)
	}
	if n, _ := Count(context.Background(), r.DB); n != 2 {
		t.Errorf("%d stored", n)
	}
	var n, sz int64
	r.DB.View(context.Background(), func(tx *store.Tx) (err error) { n, sz, err = PendingTotals(tx); return err })
	if n != 2 || sz <= 0 {
		t.Errorf("totals %d %d", n, sz)
	}
	r.Backlog.Remove(sz / 2)
	if err := r.Busy(); err != nil {
		t.Errorf("under the bound again: %v", err)
	}
}

func TestOrderKeys(t *testing.T) {
	cases := []struct {
		name                string
		rcpts               []string
		from, id, irt, refs string
		want                []string
	}{
		{"reply token and references", []string{"Reply+ABC@help.test"}, "Ann <ANN@client.test>", "<m1@c>", "<r@h>", "<root@h> <r@h>",
			[]string{"rcpt:reply+abc@help.test", "mid:m1@c", "mid:r@h", "mid:root@h", "from:ann@client.test"}},
		{"unparsable From falls back to angle brackets", []string{"help@help.test"}, "=?x?= broken <b@c.test>", "", "", "",
			[]string{"from:b@c.test"}},
		{"no From: envelope sender", []string{"help@help.test"}, "", "", "", "", []string{"from:env@x.test"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := OrderKeys(Envelope{MailFrom: "env@x.test", Rcpts: c.rcpts}, headerOf(c.from, c.id, c.irt, c.refs))
			if strings.Join(got, " ") != strings.Join(c.want, " ") {
				t.Errorf("keys %q, want %q", got, c.want)
			}
		})
	}
	many := strings.Repeat("<a@b> <c@d> ", 100)
	if n := len(OrderKeys(Envelope{}, headerOf("", "", "", many))); n > maxRefKeys+1 {
		t.Errorf("%d keys from a long References", n)
	}
}

// headerOf parses a header with the fields given (the empty ones left
// out), as the receiver does.
func headerOf(from, id, irt, refs string) *mailmsg.Message {
	var b strings.Builder
	for _, f := range [][2]string{{"From", from}, {"Message-ID", id}, {"In-Reply-To", irt}, {"References", refs}} {
		if f[1] != "" {
			b.WriteString(f[0] + ": " + f[1] + "\r\n")
		}
	}
	b.WriteString("\r\n")
	return mailmsg.ParseHeader([]byte(b.String()), mailmsg.Limits{})
}

// FuzzOrderKeys: untrusted header values must never panic the key
// extraction, and no key may carry a NUL (the index separator).
func FuzzOrderKeys(f *testing.F) {
	f.Add("Ann <a@b>", "<m@x>", "<p@x>", "<r1@x> <r2@x>", "reply+t@h")
	f.Add("", "", "<", "<<>>", "")
	f.Add("\x00<\x00@\x00>", "<\x00>", ">", "<a@b", "REPLY+\x00")
	f.Fuzz(func(t *testing.T, from, id, irt, refs, rcpt string) {
		for _, k := range OrderKeys(Envelope{MailFrom: "e@x", Rcpts: []string{rcpt}}, headerOf(from, id, irt, refs)) {
			if strings.ContainsRune(k, 0) || len(k) > maxKeyLen {
				t.Fatalf("bad key %q", k)
			}
		}
	})
}

// An email stored by an earlier version has no state in the pending
// index (an empty value): it is due at once and claimed like any other.
func TestPendingWithoutStateFromAnEarlierVersion(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	id := storeOne(t, r, "ann@client.test", "old@x", "")
	if err := update(t, r.DB, func(tx *store.Tx) error {
		// Nor a key in the due index, which came later.
		st, _, err := getState(tx, bucketPending, id)
		if err != nil {
			return err
		}
		if err := pending.Unindex(tx, id, &st); err != nil {
			return err
		}
		return tx.Put(bucketPending, []byte(id), nil)
	}); err != nil {
		t.Fatal(err)
	}
	var cands []Candidate
	r.DB.View(context.Background(), func(tx *store.Tx) (err error) {
		cands, _, err = Due(tx, Scan{Owner: "w", Now: clk.Now(), Max: 10})
		return err
	})
	if len(cands) != 0 {
		t.Fatalf("the index lists %+v; it has no key of it", cands)
	}
	// A full scan (the pipeline's first, and every Rescan) finds it, and
	// tells that the index would not have.
	r.DB.View(context.Background(), func(tx *store.Tx) (err error) {
		cands, _, err = Due(tx, Scan{Owner: "w", Now: clk.Now(), Max: 10, Full: true})
		return err
	})
	if len(cands) != 1 || cands[0].ID != id || !cands[0].Unindexed() {
		t.Fatalf("due = %+v", cands)
	}
	err := update(t, r.DB, func(tx *store.Tx) error {
		st, err := Claim(tx, id, "w", clk.Now(), time.Minute, nil)
		if err != nil {
			return err
		}
		return Finish(tx, id, "w", st.Fence)
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	r.DB.View(context.Background(), func(tx *store.Tx) (err error) { n, _, err = PendingTotals(tx); return err })
	if n != 0 {
		t.Errorf("%d still pending", n)
	}
}

// Due keeps the 250 order, not the storage order, when it must cut: an
// email stored with a later id but answered 250 first is listed before
// those answered after it.
func TestDueCutsInThe250Order(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	var ids []string
	for i := range 5 {
		ids = append(ids, storeOne(t, r, "ann@client.test", fmt.Sprintf("m%d@x", i), ""))
	}
	// The last stored email gets the smallest sequence: as if its session
	// began its DATA last but was answered 250 first.
	if err := update(t, r.DB, func(tx *store.Tx) error {
		st, found, err := getState(tx, bucketPending, ids[4])
		if err != nil || !found {
			return fmt.Errorf("state: %v %v", found, err)
		}
		before := st
		st.Seq = 0
		return pending.Write(tx, ids[4], &before, &st)
	}); err != nil {
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		var cands []Candidate
		r.DB.View(context.Background(), func(tx *store.Tx) (err error) {
			cands, _, err = Due(tx, Scan{Owner: "w", Now: clk.Now(), Max: 2, Full: full})
			return err
		})
		if len(cands) != 2 || cands[0].ID != ids[4] || cands[1].ID != ids[0] {
			var got []string
			for _, c := range cands {
				got = append(got, c.ID)
			}
			t.Fatalf("full %v: due = %v; want %v then %v", full, got, ids[4], ids[0])
		}
	}
}

// A Full Due passes over the later emails of an ordering key whose first pending
// email is held elsewhere (leased by another live worker, or given back
// to wait for its turn): their commits would wait for it and be given
// back, their steps run for nothing (two nodes on one sender's emails
// threw most of their work away so). Other keys' emails are listed; once
// the holder's email is due again, the whole key is.
func TestDueLeavesAKeyToWhoHoldsItsFirstEmail(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	a0 := storeOne(t, r, "ann@client.test", "a0@x", "")
	a1 := storeOne(t, r, "ann@client.test", "a1@x", "")
	a2 := storeOne(t, r, "ann@client.test", "a2@x", "")
	b0 := storeOne(t, r, "bob@client.test", "b0@x", "")
	now := clk.Now()
	var claimed State
	if err := update(t, r.DB, func(tx *store.Tx) (err error) {
		claimed, err = Claim(tx, a0, "node1/p1", now, time.Minute, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	due := func(owner string, at time.Time) ([]string, []string) {
		t.Helper()
		var got, waiting []string
		if err := r.DB.View(context.Background(), func(tx *store.Tx) error {
			cands, _, err := Due(tx, Scan{Owner: owner, Now: at, Max: 10, Full: true,
				Waiting: func(id string, _ time.Time) { waiting = append(waiting, id) }})
			for _, c := range cands {
				got = append(got, c.ID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got, waiting
	}
	same := func(what string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	got, waiting := due("node2/p1", now)
	same("node 2 while node 1 holds ann's first", got, b0)
	same("noted as waiting", waiting) // node 2 must read a0 again next time
	got, _ = due("node1/p1", now)
	same("node 1, which holds ann's first", got, a0, a1, a2, b0)

	// Node 1 gives a0 back to wait for its turn (no backoff): ann's emails
	// wait with it, on every node, until it is due.
	if err := update(t, r.DB, func(tx *store.Tx) error {
		return Release(tx, a0, "node1/p1", claimed.Fence, now.Add(250*time.Millisecond))
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = due("node2/p1", now.Add(100*time.Millisecond))
	same("node 2 while a0 waits for its turn", got, b0)
	got, _ = due("node1/p1", now.Add(100*time.Millisecond))
	same("node 1 while a0 waits for its turn", got, b0)
	got, _ = due("node2/p1", now.Add(300*time.Millisecond))
	same("node 2 once a0 is due", got, a0, a1, a2, b0)

	// A lease that ran out holds nothing back (its node may be dead).
	if err := update(t, r.DB, func(tx *store.Tx) (err error) {
		_, err = Claim(tx, a0, "node1/p1", now.Add(time.Second), time.Minute, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got, _ = due("node2/p1", now.Add(2*time.Minute))
	same("node 2 after node 1's lease ran out", got, a0, a1, a2, b0)
}

// The emails Due passes over for a holder elsewhere do not count towards
// the scan's stop: behind a long run of one sender's emails held by
// another node, another sender's email is still found.
func TestDueLooksPastAHeldKeysEmails(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	a0 := storeOne(t, r, "ann@client.test", "a0@x", "")
	for i := range dueSlack + 10 {
		clk.Advance(time.Millisecond) // ids in the order stored
		storeOne(t, r, "ann@client.test", fmt.Sprintf("a%d@x", i+1), "")
	}
	clk.Advance(time.Millisecond)
	b0 := storeOne(t, r, "bob@client.test", "b0@x", "")
	now := clk.Now()
	if err := update(t, r.DB, func(tx *store.Tx) error {
		_, err := Claim(tx, a0, "node1/p1", now, time.Minute, nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	var got []string
	if err := r.DB.View(context.Background(), func(tx *store.Tx) error {
		cands, _, err := Due(tx, Scan{Owner: "node2/p1", Now: now, Max: 1, Full: true})
		for _, c := range cands {
			got = append(got, c.ID)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{b0}) {
		t.Errorf("due for node 2: %v, want bob's %s", got, b0)
	}
}

// The due index's scan passes over what the caller says is held back
// (Scan.Held) unread, and finds another sender's email behind it; a run
// of held emails longer than heldBudget ends the scan, so that one
// sender's backlog held by another node does not make every scan read
// all of its keys.
func TestDueIndexPassesOverHeldEmails(t *testing.T) {
	r, clk := newReceiver(t, Limits{})
	var ann []string
	for i := range heldBudget + 10 {
		clk.Advance(time.Millisecond)
		ann = append(ann, storeOne(t, r, "ann@client.test", fmt.Sprintf("a%d@x", i), ""))
	}
	clk.Advance(time.Millisecond)
	bob := storeOne(t, r, "bob@client.test", "b0@x", "")
	due := func(held map[string]bool) []string {
		t.Helper()
		var got []string
		if err := r.DB.View(context.Background(), func(tx *store.Tx) error {
			cands, _, err := Due(tx, Scan{Owner: "n/1", Now: clk.Now(), Max: 1,
				Held: func(id string) bool { return held[id] }})
			for _, c := range cands {
				got = append(got, c.ID)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	held := map[string]bool{}
	for _, id := range ann[1:20] {
		held[id] = true
	}
	if got := due(held); fmt.Sprint(got) != fmt.Sprint([]string{ann[0]}) {
		t.Errorf("due = %v, want ann's first %s", got, ann[0])
	}
	held[ann[0]] = true
	for _, id := range ann[20 : heldBudget-1] {
		held[id] = true
	}
	if got := due(held); fmt.Sprint(got) != fmt.Sprint([]string{ann[heldBudget-1]}) {
		t.Errorf("due = %v, want the first not held, %s", got, ann[heldBudget-1])
	}
	for _, id := range ann {
		held[id] = true
	}
	if got := due(held); len(got) != 0 {
		t.Errorf("due = %v past %d held emails, want none (the scan stops; %s is found by whoever holds ann's)", got, heldBudget, bob)
	}
}
