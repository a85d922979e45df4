package pgtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// BouncerBinary is Debian's PgBouncer (package pgbouncer).
const BouncerBinary = "/usr/sbin/pgbouncer"

// BouncerPoolSize is how many server connections the test PgBouncer keeps
// per database: however many clients, the database sees at most this many
// of it (plus the nodes' direct connections).
const BouncerPoolSize = 10

// Bouncer is a PgBouncer in transaction mode in front of the test
// server, run in the foreground by the test with a config of its own
// (never the system's service), stopped when the test ends.
type Bouncer struct {
	Port int
	log  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// StartBouncer starts PgBouncer (pool_mode = transaction, trust
// authentication, every database of the test server) on a free port of
// 127.0.0.1. Without the binary the test is skipped, and fails when
// CI=true (.ci/run installs it).
func StartBouncer(t testing.TB) *Bouncer {
	t.Helper()
	if _, err := os.Stat(BouncerBinary); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("PgBouncer is not installed (%s); in CI a skip would hide it: apt-get install pgbouncer", BouncerBinary)
		}
		t.Skipf("PgBouncer is not installed (%s): apt-get install pgbouncer to run this test", BouncerBinary)
	}
	server, err := url.Parse(Server())
	if err != nil {
		t.Fatal(err)
	}
	host, port := server.Hostname(), server.Port()
	if port == "" {
		port = "5432"
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	free := l.Addr().(*net.TCPAddr).Port
	l.Close()
	users := filepath.Join(dir, "users.txt")
	pgUser := server.User.Username()
	if err := os.WriteFile(users, fmt.Appendf(nil, "%q \"\"\n", pgUser), 0o600); err != nil {
		t.Fatal(err)
	}
	// No logfile or pidfile: PgBouncer opens them after it drops root,
	// and a test's folder is root's alone. It logs to stderr in the
	// foreground, kept for a failing test.
	conf := fmt.Sprintf(`[databases]
* = host=%s port=%s
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = trust
auth_file = %s
admin_users = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 2000
server_lifetime = 3600
`, host, port, free, users, pgUser, BouncerPoolSize)
	ini := filepath.Join(dir, "pgbouncer.ini")
	if err := os.WriteFile(ini, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{ini}
	if os.Getuid() == 0 {
		// PgBouncer refuses to run as root.
		for _, name := range []string{"postgres", "nobody"} {
			if _, err := user.Lookup(name); err == nil {
				args = []string{"-u", name, ini}
				break
			}
		}
	}
	b := &Bouncer{Port: free, log: &lockedBuffer{}}
	cmd := exec.Command(BouncerBinary, args...)
	cmd.Stdout, cmd.Stderr = b.log, b.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("pgbouncer log:\n%s", b.log.String())
		}
	})
	// Ready once it answers a query.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, b.URL(Server()))
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return b
		}
		select {
		case <-exited:
			t.Fatalf("pgbouncer exited: %s", b.log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("pgbouncer did not answer: %v\n%s", err, b.log.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// URL is direct (a URL of the test server) through the bouncer.
func (b *Bouncer) URL(direct string) string {
	u, err := url.Parse(direct)
	if err != nil {
		return direct
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(b.Port))
	return u.String()
}

// Log is what PgBouncer wrote so far.
func (b *Bouncer) Log() string { return b.log.String() }

// ServerConnections counts the connections the database named by url has
// on the server (pg_stat_activity), whoever opened them.
func ServerConnections(t testing.TB, dbURL string) int {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := u.Path[1:]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, Server())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
