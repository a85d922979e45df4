package queue

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
)

// newEnvPG is newEnv on a PostgreSQL database of its own, with a plain
// connection to it to watch its locks.
func newEnvPG(t *testing.T) (*env, *pgx.Conn) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{Committers: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return newEnvOn(t, db), conn
}

// waitForLockWait polls pg_locks until an advisory lock request of this
// database waits (a real wait in the database, not a sleep in the test).
func waitForLockWait(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var waiting int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
			WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`).Scan(&waiting)
		if err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no advisory lock wait")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// commitInC1 runs what the pipeline's commit of an email to conversation
// c1 does, with the locks it declares (the conversation's): the agent's
// message appended and its notification held, joining ann's held email.
// It blocks, inside its transaction, until release is closed; running is
// closed once its writes are done.
func (e *env) commitInC1(text string, running, release chan struct{}) (msg string, done chan error) {
	e.clk.Advance(time.Second)
	now := e.clk.Now()
	msg = store.NewID(now)
	done = make(chan error, 1)
	go func() {
		done <- e.db.Update(context.Background(), func(tx *store.Tx) error {
			_, notes, err := messaging.PostTx(tx, model.Message{ID: msg, Conversation: "c1", Author: "agent",
				Channel: model.ChannelEmail, Text: text}, now)
			if err != nil {
				return err
			}
			if err := e.svc.Notified(tx, notes); err != nil {
				return err
			}
			tx.Count("x") // the writes reach the database
			close(running)
			<-release
			return nil
		}, store.Locks(model.ConvLock("c1"))) // not Background: the node's one background committer is the lease's (another node's in production)
	}()
	select {
	case <-running:
	case err := <-done:
		e.t.Fatalf("commit ended early: %v", err)
	}
	return msg, done
}

// heldOf is ann's held email of c1.
func (e *env) heldOf() Job {
	e.t.Helper()
	var j Job
	e.view(func(tx *store.Tx) error {
		id := tx.Get(bHeld, pairKey("ann", "c1"))
		if id == nil {
			return nil
		}
		var err error
		j, err = GetJob(tx, string(id))
		return err
	})
	return j
}

// A seen-ack of a conversation waits for the commit that adds to the
// held email it shrinks (the conversation's lock, which the ack holds
// shared), and then sees what it added: the message seen leaves the
// email, the one added stays. Were they to run side by side, the ack
// would cancel the email as all seen while the commit writes it back
// held with both messages: ann would be emailed one she saw.
func TestSeenAckTakesTurnsWithACommitJoiningTheHeldEmailPostgres(t *testing.T) {
	e, conn := newEnvPG(t)
	m1 := e.post("the printer is on fire")
	held := e.heldOf()
	if !slices.Equal(held.Messages, []string{m1}) {
		t.Fatalf("held email %+v, want %s", held, m1)
	}
	release := make(chan struct{})
	m2, commit := e.commitInC1("it is out now", make(chan struct{}), release)
	acked := make(chan error, 1)
	go func() {
		_, err := e.svc.Seen(context.Background(), "ann", "c1", m1)
		acked <- err
	}()
	waitForLockWait(t, conn)
	select {
	case err := <-acked:
		t.Fatalf("the seen-ack ran beside the commit of its conversation: %v", err)
	default:
	}
	close(release)
	for _, c := range []chan error{commit, acked} {
		if err := <-c; err != nil {
			t.Fatal(err)
		}
	}
	j := e.heldOf()
	if j.ID != held.ID || j.State != StateHeld || !slices.Equal(j.Messages, []string{m2}) || !slices.Equal(j.Dropped, []string{m1}) {
		t.Fatalf("held email = %+v; want %s held with %s only (%s dropped as seen)", j, held.ID, m2, m1)
	}
	e.clk.Advance(DefaultHold + time.Second)
	if n := e.process(); n != 1 {
		t.Fatalf("processed %d, want the one email", n)
	}
	if got := e.status(m1, "ann"); got != "cancelled (seen)" {
		t.Errorf("status of the seen message = %q", got)
	}
}

// Seen-acks of several people of one conversation run side by side (the
// conversation's lock is shared among them).
func TestSeenAcksOfOneConversationRunSideBySidePostgres(t *testing.T) {
	e, _ := newEnvPG(t)
	m1 := e.post("the printer is on fire")
	release := make(chan struct{})
	running := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- e.db.Update(context.Background(), func(tx *store.Tx) error {
			close(running)
			<-release
			return nil
		}, messaging.SeenLocks("agent", "c1")...)
	}()
	<-running
	if _, err := e.svc.Seen(context.Background(), "ann", "c1", m1); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// A lease does not end a hold while a commit of its conversation is
// adding to it: the job is skipped (not waited for) and leased after,
// with both messages, once.
func TestLeaseSkipsAHeldEmailWhileItsConversationCommitsPostgres(t *testing.T) {
	e, _ := newEnvPG(t)
	m1 := e.post("the printer is on fire")
	e.clk.Advance(DefaultHold + time.Second)
	release := make(chan struct{})
	m2, commit := e.commitInC1("it is out now", make(chan struct{}), release)
	if n := e.process(); n != 0 {
		t.Fatalf("leased %d emails while the conversation's commit was adding to one", n)
	}
	close(release)
	if err := <-commit; err != nil {
		t.Fatal(err)
	}
	if n := e.process(); n != 1 {
		t.Fatalf("processed %d after the commit, want 1", n)
	}
	e.clk.Advance(time.Hour)
	e.process()
	got := e.tr.emails()
	if len(got) != 1 {
		t.Fatalf("sent %d emails, want 1", len(got))
	}
	for _, m := range []string{m1, m2} {
		if s := e.status(m, "ann"); s != "sent" {
			t.Errorf("status of %s = %q, want sent in the one email", m, s)
		}
	}
}
