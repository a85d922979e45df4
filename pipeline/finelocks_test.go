package pipeline

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// twoNodesPG is the fixture on a PostgreSQL database of its own (node A's
// handle), a second handle for node B, and a plain connection to watch
// the database's locks. c1 is known by a second Message-ID
// (other@help.test), so that two replies to it can share no ordering key.
func twoNodesPG(t *testing.T) (f *pipeFixture, dbB *store.DB, conn *pgx.Conn) {
	t.Helper()
	f, dbB, url := twoNodesOnPostgres(t)
	if err := f.db.Update(context.Background(), func(tx *store.Tx) error {
		return model.IndexMessageID(tx, "other@help.test", "c1")
	}); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return f, dbB, conn
}

// lockWaits counts the advisory lock requests of this database that wait.
func lockWaits(t *testing.T, conn *pgx.Conn) int {
	t.Helper()
	var n int
	err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// blockFirstCommit makes node A's first commit wait, inside its
// transaction (its locks held), until release is closed; blocked is
// closed once it waits. Node A then claims nothing more (no rescan; the
// test wakes only node B): an email it claimed would wait behind the held
// commit on its one background committer, which is not what is tested.
func blockFirstCommit(blocked, release chan struct{}) func(p *Pipeline) {
	var once sync.Once
	return func(p *Pipeline) {
		p.Rescan = time.Hour
		p.BeforeCommit = func(string) error {
			first := false
			once.Do(func() { first = true })
			if first {
				close(blocked)
				<-release
			}
			return nil
		}
	}
}

// With PostgreSQL, the commits of two conversations do not wait for each
// other: while node A's commit of a reply to c1 is held open inside its
// transaction, node B commits an email that opens another conversation.
// A reply to c1 that shares no ordering key with the held one (another
// sender, another referenced Message-ID) waits for the conversation's
// lock in the database, and is appended after it, in order.
func TestCommitsOfTwoConversationsRunSideBySidePostgres(t *testing.T) {
	f, dbB, conn := twoNodesPG(t)
	blocked, release := make(chan struct{}), make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(let) // before the pipelines stop, should the test fail
	f.run("node-a", blockFirstCommit(blocked, release))
	first := f.send(t, "ann@a.test", "help@help.test", "x@a.test", "<root@help.test>")
	select {
	case <-blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("node A's commit never ran")
	}
	b := f.runOn(dbB, "node-b", nil)
	f.recv.Stored = b.Wake
	other := f.send(t, "cy@c.test", "help@help.test", "z@c.test", "")
	waitUntil(t, "node B commits another conversation's email while A's commit is open", func() bool {
		return !f.pending(t)[other]
	})
	second := f.send(t, "bob@b.test", "help@help.test", "y@b.test", "<other@help.test>")
	waitUntil(t, "the second reply to c1 waits for the conversation's lock", func() bool { return lockWaits(t, conn) > 0 })
	if !f.pending(t)[first] || !f.pending(t)[second] {
		t.Fatal("a reply to c1 was committed while another commit of c1 was open")
	}
	let()
	waitUntil(t, "every email is processed", func() bool { return len(f.pending(t)) == 0 })
	ms := f.messages(t, "c1")
	if len(ms) != 2 || ms[0].Original != first || ms[1].Original != second {
		t.Fatalf("c1 = %+v; want %s then %s", ms, first, second)
	}
	es, err := journal.Query(context.Background(), f.db, journal.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	sawOther := false
	for _, e := range es {
		if e.StoredID == other {
			sawOther = true
			if !strings.HasPrefix(e.Action, "created conversation") {
				t.Errorf("%s: %q", e.StoredID, e.Action)
			}
		}
	}
	if !sawOther {
		t.Errorf("no journal entry for %s", other)
	}
}

// A commit that declared none of its step's locks (NoDeclare) is run
// again by the store with the ones its accessors asked for (store.Tx.Need),
// once, and writes everything once: one customer, one conversation, one
// message per email.
func TestCommitMissingItsLocksRunsAgainWithThemPostgres(t *testing.T) {
	f, _, _ := twoNodesPG(t)
	var mu sync.Mutex
	runs := map[string]int{}
	f.run("node", func(p *Pipeline) {
		p.NoDeclare = true
		p.BeforeCommit = func(id string) error {
			mu.Lock()
			runs[id]++
			mu.Unlock()
			return nil
		}
	})
	opened := f.send(t, "dan@d.test", "help@help.test", "n@d.test", "")
	reply := f.send(t, "eve@e.test", "help@help.test", "r@e.test", "<root@help.test>")
	waitUntil(t, "both emails are processed", func() bool { return len(f.pending(t)) == 0 })
	mu.Lock()
	for _, id := range []string{opened, reply} {
		if runs[id] != 2 {
			t.Errorf("the commit of %s ran %d times; want 2 (without its locks, then with them)", id, runs[id])
		}
	}
	mu.Unlock()
	if ms := f.messages(t, "c1"); len(ms) != 1 || ms[0].Original != reply {
		t.Fatalf("c1 = %+v; want the reply once", ms)
	}
	err := f.db.View(context.Background(), func(tx *store.Tx) error {
		p, err := model.PersonByEmail(tx, "dan@d.test")
		if err != nil {
			return err
		}
		convs, err := model.RecentConversations(tx, 10)
		if err != nil {
			return err
		}
		opens := 0
		for _, c := range convs {
			if len(c.Followers) > 0 && c.Followers[0] == p.ID {
				opens++
			}
		}
		if opens != 1 {
			return fmt.Errorf("%d conversations opened by %s, want 1", opens, p.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
