package e2e

import (
	"bufio"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// follower is a running `deskmail log --follow --json`.
type follower struct {
	cmd    *exec.Cmd
	out    *lineLog
	exited chan struct{}
	err    error
}

func startFollow(t *testing.T, dir string) *follower {
	t.Helper()
	cmd := exec.Command(binary, "log", "--follow", "--json", "--data", dir, "--hours", "1")
	cmd.Env = cleanEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	f := &follower{cmd: cmd, out: newLineLog(), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			f.out.add(sc.Text())
		}
		f.err = cmd.Wait()
		f.out.close()
		close(f.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-f.exited:
		default:
			_ = cmd.Process.Kill()
			<-f.exited
		}
	})
	return f
}

// waitEntry waits for a printed entry with the Message-ID id.
func (f *follower) waitEntry(t *testing.T, id string) {
	t.Helper()
	// The JSON encoder escapes the angle brackets; match what is inside.
	bare := strings.Trim(id, "<>")
	if _, ok := f.out.waitFor(0, lineTimeout, func(l string) bool { return strings.Contains(l, bare) }); !ok {
		t.Fatalf("deskmail log --follow did not print %s within %v; it printed:\n%s", id, lineTimeout, strings.Join(f.out.all(), "\n"))
	}
}

// stop interrupts the follower as an operator's Ctrl-C would; it must exit 0.
func (f *follower) stop(t *testing.T) {
	t.Helper()
	_ = f.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-f.exited:
	case <-time.After(exitTimeout):
		t.Fatalf("deskmail log --follow did not stop on SIGINT")
	}
	if f.err != nil {
		t.Errorf("deskmail log --follow after SIGINT: %v", f.err)
	}
}

// TestLogFollow checks that `deskmail log --follow --json` prints an entry
// for a message that arrives while it runs, once, as valid JSON.
func TestLogFollow(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	sendOne(t, d.SMTP, message("<before-follow@client.test>", "old", 1000))
	f := startFollow(t, dir)
	f.waitEntry(t, "<before-follow@client.test>")
	id := "<while-following@client.test>"
	sendOne(t, d.SMTP, message(id, "new", 1000))
	f.waitEntry(t, id)
	f.stop(t)
	n := receivedByMessageID(parseLog(t, strings.Join(f.out.all(), "\n")))
	if n[id] != 1 || n["<before-follow@client.test>"] != 1 {
		t.Errorf("entries printed %v, want each once", n)
	}
	d.stop()
}

// TestLogFollowSlowMessage has a message that started arriving before
// another one but was committed after it. --follow must still print it:
// the log is for seeing every message, and a slow sender is common.
func TestLogFollowSlowMessage(t *testing.T) {
	dir := t.TempDir()
	d := startDaemon(t, dir)
	f := startFollow(t, dir)
	slowID, fastID, lastID := "<slow@client.test>", "<fast@client.test>", "<last@client.test>"
	slow := message(slowID, "slow", 20_000)
	_, w := openData(t, d.SMTP, slow)
	sendOne(t, d.SMTP, message(fastID, "fast", 1000))
	f.waitEntry(t, fastID)
	if _, err := w.Write(slow[len(slow)/2:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("slow message: %v", err)
	}
	sendOne(t, d.SMTP, message(lastID, "last", 1000))
	f.waitEntry(t, lastID)
	f.stop(t)
	n := receivedByMessageID(parseLog(t, strings.Join(f.out.all(), "\n")))
	if n[slowID] != 1 {
		t.Errorf("deskmail log --follow printed the slow message %d times, want 1 (it printed %v)", n[slowID], n)
	}
	d.stop()
}
