package gateway

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/store/pgtest"
	"github.com/deskmail/deskmail/threading"
)

// Two nodes starting on one database end up with the same secrets; a node
// whose data folder already had a key (a site moved with db copy) shares
// its own, and a later node's differing file is replaced.
func TestNodesShareTheirSecrets(t *testing.T) {
	url := pgtest.NewDatabase(t)
	log := slog.New(slog.DiscardHandler)
	dirA, dirB := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(dirA, intake.LoopSecretFile), []byte("00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirB, intake.LoopSecretFile), []byte("ffeeddccbbaa99887766554433221100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{dirA, dirB} {
		startNode(t, url, dir, log)
	}
	for name := range sharedSecretFiles {
		a, errA := os.ReadFile(filepath.Join(dirA, name))
		b, errB := os.ReadFile(filepath.Join(dirB, name))
		if errA != nil || errB != nil || string(a) != string(b) || len(a) == 0 {
			t.Errorf("%s: node A %q (%v), node B %q (%v)", name, a, errA, b, errB)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dirB, intake.LoopSecretFile)); string(b) != "00112233445566778899aabbccddeeff\n" {
		t.Errorf("node B's marker key %q, want node A's, stored first", b)
	}
	ka, err := threading.LoadOrCreateKeyring(dirA)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := threading.LoadOrCreateKeyring(dirB)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := ka.Token("c1", "ann")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kb.ParseToken(tok); err != nil {
		t.Errorf("a reply token minted on node A does not verify on node B: %v", err)
	}
}

// On PostgreSQL the first start says where the generated API token is, as
// on bbolt; a second node says it wrote the shared one.
func TestFirstStartOnPostgresSaysWhereTheAPITokenIs(t *testing.T) {
	url := pgtest.NewDatabase(t)
	for i, want := range []string{"generated an API token", "wrote the API token the other nodes share"} {
		dir := t.TempDir()
		var logs strings.Builder
		startNode(t, url, dir, slog.New(slog.NewTextHandler(&logs, nil)))
		path := filepath.Join(dir, TokenFile)
		if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), "file="+path) {
			t.Errorf("node %d: log %q, want %q with file=%s", i+1, logs.String(), want, path)
		}
	}
}

// startNode shares the secrets as a node starting on dir does.
func startNode(t *testing.T, url, dir string, log *slog.Logger) {
	t.Helper()
	db, err := store.OpenPostgres(context.Background(), url, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := shareSecrets(context.Background(), db, dir, log); err != nil {
		t.Fatal(err)
	}
}

// The announcer publishes a poke to the other nodes (another handle on the
// database is another node), and its goroutine ends with its context,
// before the store is closed.
func TestAnnouncerPublishesAndStops(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	other, err := store.OpenPostgres(context.Background(), url, t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	got := make(chan string, 16)
	unsub := other.Subscribe(TopicInbound, func(p string) { got <- p })
	defer unsub()
	a := newAnnouncer(db, TopicInbound)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()
	// The subscriber's LISTEN starts on its own connection: poke until a
	// note reaches it.
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for received := false; !received; {
		a.Poke()
		select {
		case <-got:
			received = true
		case <-tick.C:
		case <-deadline:
			t.Fatal("no note reached the other node")
		}
	}
	cancel()
	<-done
}

// Pokes that come while the announcer waits out its gap after a note
// become one note, sent when the gap ends.
func TestAnnouncerGathersPokesOfItsGap(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	notes := make(chan struct{}, 16)
	gaps := make(chan chan time.Time, 4)
	a := newAnnouncer(db, TopicInbound)
	a.publish = func() { notes <- struct{}{} }
	a.after = func(time.Duration) <-chan time.Time {
		c := make(chan time.Time, 1)
		gaps <- c
		return c
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	a.Poke()
	<-notes
	gap := <-gaps // the announcer waits out its gap now
	for range 10 {
		a.Poke()
	}
	if n := len(notes); n != 0 {
		t.Fatalf("%d notes sent during the gap", n)
	}
	gap <- time.Time{}
	<-notes
	<-gaps // waiting again, with nothing left to send
	if n := len(notes); n != 0 {
		t.Fatalf("ten pokes of one gap made %d notes more than one", n)
	}
}
