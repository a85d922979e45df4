package e2e

import (
	"strings"
	"testing"

	"github.com/deskmail/deskmail/store/pgtest"
)

// A site outgrows one box: its data folder is copied into PostgreSQL with
// `deskmail db copy`, which prints the per-kind counts it verified, and a
// node started on the database (with the old folder, so its secrets are
// shared) has everything; the copy back to a fresh folder works too.
func TestDBCopyMovesASite(t *testing.T) {
	dir := t.TempDir()
	useStore(dir, "") // a bbolt folder in either pass of the suite
	d := startDaemon(t, dir)
	sendOne(t, d.SMTP, message("<copy-1@client.test>", "before the move", 2000))
	sendOne(t, d.SMTP, message("<copy-2@client.test>", "big one", 400_000)) // spooled
	d.stop()

	url := pgtest.NewDatabase(t)
	r := runCLI(t, nil, nil, "db", "copy", "--from", dir, "--to", url)
	if r.Code != 0 || !strings.Contains(r.Stdout, "counts verified") || !strings.Contains(r.Stdout, "(large bodies)                   1") {
		t.Fatalf("db copy: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if r := runCLI(t, nil, nil, "db", "copy", "--from", dir, "--to", url); r.Code == 0 {
		t.Error("a second copy into the now full database succeeded")
	}
	useStore(dir, url)
	d = startDaemon(t, dir)
	got := receivedByMessageID(readLog(t, dir))
	if got["<copy-1@client.test>"] != 1 || got["<copy-2@client.test>"] != 1 {
		t.Errorf("log on PostgreSQL after the move: %v", got)
	}
	d.stop()

	back := t.TempDir()
	useStore(back, "")
	if r := runCLI(t, nil, nil, "db", "copy", "--from", url, "--to", back); r.Code != 0 {
		t.Fatalf("db copy back: exit %d\n%s\n%s", r.Code, r.Stdout, r.Stderr)
	}
	if got := receivedByMessageID(readLog(t, back)); got["<copy-2@client.test>"] != 1 {
		t.Errorf("log of the folder copied back: %v", got)
	}
}
