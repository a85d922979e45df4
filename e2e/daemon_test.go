package e2e

import (
	"bufio"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of the waits on the daemon. Generous, because a race-enabled
// build on a loaded 2-core machine starts slowly; a healthy run is far
// below them.
const (
	startTimeout = 20 * time.Second
	exitTimeout  = 20 * time.Second
	lineTimeout  = 15 * time.Second
)

// daemon is a running `deskmail serve`.
type daemon struct {
	t    *testing.T
	dir  string
	cmd  *exec.Cmd
	SMTP string // SMTP address
	HTTP string // HTTP API address

	out    *lineLog // stderr, line by line
	exited chan struct{}
	err    error // of cmd.Wait, valid once exited is closed
}

// baseServeArgs are the flags every scenario starts the daemon with.
func baseServeArgs(dir string) []string {
	return []string{"serve", "--data", dir,
		"--smtp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
		"--domain", "example.test", "--max-connections-per-ip", "200",
		"--hostname", "mx.example.test"}
}

var listeningRE = regexp.MustCompile(`msg=listening proto=(\w+) addr=(\S+)`)

// startDaemon runs `deskmail serve` on dir with extra flags and waits until
// it logs that it is ready. The process is killed when the test ends.
func startDaemon(t *testing.T, dir string, extra ...string) *daemon {
	t.Helper()
	extra = append(storeArgs(t, dir), extra...)
	cmd := exec.Command(binary, append(baseServeArgs(dir), extra...)...)
	cmd.Env = cleanEnv()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start deskmail serve: %v", err)
	}
	d := &daemon{t: t, dir: dir, cmd: cmd, out: newLineLog(), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			d.out.add(sc.Text())
		}
		d.err = cmd.Wait() // only after every read of the pipe
		d.out.close()
		close(d.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-d.exited:
		default:
			_ = cmd.Process.Kill()
			select {
			case <-d.exited:
			case <-time.After(exitTimeout):
				t.Errorf("deskmail pid %d did not die after SIGKILL", cmd.Process.Pid)
			}
		}
		for _, l := range d.out.all() {
			if strings.Contains(l, "DATA RACE") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "fatal error:") {
				t.Errorf("daemon stderr: %s", l)
			}
		}
		if t.Failed() {
			t.Logf("daemon (pid %d) stderr:\n%s", cmd.Process.Pid, strings.Join(d.out.all(), "\n"))
		}
	})
	if _, ok := d.out.waitFor(0, startTimeout, func(l string) bool { return strings.Contains(l, `msg="deskmail ready"`) }); !ok {
		select {
		case <-d.exited:
			t.Fatalf("deskmail serve exited before it was ready: %v", d.err)
		default:
			t.Fatalf("deskmail serve did not log ready within %v", startTimeout)
		}
	}
	for _, l := range d.out.all() {
		if m := listeningRE.FindStringSubmatch(l); m != nil {
			switch m[1] {
			case "smtp":
				d.SMTP = m[2]
			case "http":
				d.HTTP = m[2]
			}
		}
	}
	if d.SMTP == "" || d.HTTP == "" {
		t.Fatalf("ready, but no smtp and http listening lines: smtp=%q http=%q", d.SMTP, d.HTTP)
	}
	return d
}

// signal sends sig to the daemon.
func (d *daemon) signal(sig syscall.Signal) {
	d.t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("signal %v: %v", sig, err)
	}
}

// kill SIGKILLs the daemon and waits until it is gone.
func (d *daemon) kill() {
	d.t.Helper()
	d.signal(syscall.SIGKILL)
	d.wait()
}

// wait waits for the process to end and returns its exit code.
func (d *daemon) wait() int {
	d.t.Helper()
	return d.waitWithin(exitTimeout)
}

// waitWithin is wait with a bound of its own.
func (d *daemon) waitWithin(timeout time.Duration) int {
	d.t.Helper()
	select {
	case <-d.exited:
	case <-time.After(timeout):
		// SIGQUIT: the Go runtime prints every goroutine's stack to the
		// daemon's stderr, which the failing test shows (where it hangs).
		_ = d.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-d.exited:
		case <-time.After(5 * time.Second):
		}
		d.t.Fatalf("deskmail did not exit within %v", timeout)
	}
	var ee *exec.ExitError
	switch {
	case d.err == nil:
		return 0
	case errors.As(d.err, &ee):
		if !ee.Exited() {
			d.t.Logf("deskmail pid %d: %v", d.cmd.Process.Pid, ee.ProcessState)
		}
		return ee.ExitCode() // -1 when killed by a signal
	default:
		d.t.Fatalf("wait for deskmail: %v", d.err)
		return -1
	}
}

// stop sends SIGTERM and requires a clean exit (status 0).
func (d *daemon) stop() {
	d.t.Helper()
	d.signal(syscall.SIGTERM)
	if code := d.wait(); code != 0 {
		d.t.Fatalf("deskmail exited with status %d after SIGTERM, want 0", code)
	}
}

// waitLog waits for a stderr line containing every one of parts, looking
// at lines from index from on, and returns the index after the match.
func (d *daemon) waitLog(from int, parts ...string) int {
	d.t.Helper()
	i, ok := d.out.waitFor(from, lineTimeout, func(l string) bool {
		for _, p := range parts {
			if !strings.Contains(l, p) {
				return false
			}
		}
		return true
	})
	if !ok {
		d.t.Fatalf("no daemon log line with %q within %v", parts, lineTimeout)
	}
	return i + 1
}

// lineLog collects the lines of an output stream and lets tests wait for
// one without sleeping.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced on every new line
	closed  bool
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *lineLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *lineLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// waitFor returns the index of the first line at or after from that
// matches, waiting up to timeout for it; false if none came (or the
// stream ended without one).
func (l *lineLog) waitFor(from int, timeout time.Duration, match func(string) bool) (int, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for ; from < len(l.lines); from++ {
			if match(l.lines[from]) {
				l.mu.Unlock()
				return from, true
			}
		}
		changed, closed := l.changed, l.closed
		l.mu.Unlock()
		if closed {
			return 0, false
		}
		select {
		case <-changed:
		case <-deadline.C:
			return 0, false
		}
	}
}
