package gateway

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/deskmail/deskmail/clock"
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
	a := newAnnouncer(db, TopicInbound, clock.Real{})
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

// A burst of pokes is one note, and the announcer sends at most one note
// per gap: pokes during the gap become one note at its end.
func TestAnnouncerSendsAtMostOneNotePerGap(t *testing.T) {
	db, err := store.OpenPostgres(context.Background(), pgtest.NewDatabase(t), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFake(time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC))
	a := newAnnouncer(db, TopicInbound, clk)
	notes := make(chan struct{}, 100)
	a.publish = func() { notes <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.run(ctx); close(done) }()
	parked := func() {
		t.Helper()
		for clk.Waiters() == 0 {
			runtime.Gosched()
		}
	}
	for range 5 {
		a.Poke()
	}
	<-notes
	parked()
	for range 5 {
		a.Poke()
	}
	if n := len(notes); n != 0 {
		t.Fatalf("%d notes during the gap", n)
	}
	clk.Advance(announceGap)
	<-notes
	parked()
	if n := len(notes); n != 0 {
		t.Fatalf("%d more notes for one gap's pokes, want none", n)
	}
	clk.Advance(announceGap) // nothing was poked: no note
	cancel()
	<-done
	if n := len(notes); n != 0 {
		t.Errorf("%d notes with nothing poked", n)
	}
}

// A probe cut off by the shutdown is not an outage: healthWatch ends
// without logging "database unreachable" or turning the node unready; a
// probe that fails while it runs still does both.
func TestHealthWatchShutdownIsNoOutage(t *testing.T) {
	db := pgtest.Open(t, t.TempDir(), store.Options{})
	watch := func(probe func(ctx context.Context, stop func()) error) (bool, string) {
		var logs strings.Builder
		var ok atomic.Bool
		ok.Store(true)
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		tick := make(chan time.Time)
		done := make(chan struct{})
		go func() {
			defer close(done)
			healthWatch(ctx, func(c context.Context) error { return probe(c, stop) }, &ok, tick, time.Minute,
				slog.New(slog.NewTextHandler(&logs, nil)))
		}()
		tick <- time.Now()
		select { // the second tick is taken once the first probe is done
		case tick <- time.Now():
		case <-done:
		}
		stop()
		<-done
		return ok.Load(), logs.String()
	}
	// The shutdown cancels the context while the database is pinged.
	if ok, logs := watch(func(ctx context.Context, stop func()) error { stop(); return db.Healthy(ctx) }); !ok || logs != "" {
		t.Errorf("at shutdown: ready %v, log %q; want ready, nothing logged", ok, logs)
	}
	// A database that does not answer (its pool closed) is an outage.
	db.Close()
	var probed bool
	ok, logs := watch(func(ctx context.Context, _ func()) error { probed = true; return db.Healthy(ctx) })
	if !probed || ok || !strings.Contains(logs, "database unreachable") {
		t.Errorf("store away: probed %v, ready %v, log %q; want unready and logged", probed, ok, logs)
	}
}
