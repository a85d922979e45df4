// Package pgtest gives each test its own PostgreSQL database, created from
// a migrated template database in milliseconds (CREATE DATABASE ...
// TEMPLATE) and dropped when the test ends.
//
// The server is DESKMAIL_TEST_PG (default
// postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable). When it
// cannot be reached a test is skipped on a developer's machine but FAILS
// when CI=true: a skipped PostgreSQL test in CI is a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/store"
)

// DefaultServer is the administrative URL used when DESKMAIL_TEST_PG is
// not set.
const DefaultServer = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// Server is the administrative URL of the test server.
func Server() string {
	if u := os.Getenv("DESKMAIL_TEST_PG"); u != "" {
		return u
	}
	return DefaultServer
}

// WithDB returns the server URL with the database name replaced.
func WithDB(server, name string) string {
	u, err := url.Parse(server)
	if err != nil {
		return server
	}
	u.Path = "/" + name
	return u.String()
}

func unreachable(t testing.TB, err error) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("PostgreSQL test server unreachable in CI (a skip would hide it): %v", err)
	}
	t.Skipf("PostgreSQL test server unreachable (set DESKMAIL_TEST_PG): %v", err)
}

// templateName depends on the migrations, so a changed schema gets a fresh
// template instead of a stale one.
func templateName() string {
	h := sha256.New()
	fmt.Fprint(h, store.SchemaVersion())
	for _, s := range store.MigrationSQL() {
		h.Write([]byte(s))
	}
	return "deskmail_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12]
}

// NewDatabase creates an empty, migrated database and returns its URL; it
// is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server := Server()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		unreachable(t, err)
	}
	defer admin.Close(context.Background())
	tmpl := templateName()
	if err := ensureTemplate(ctx, admin, server, tmpl); err != nil {
		t.Fatalf("template database: %v", err)
	}
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "t_" + hex.EncodeToString(r[:])
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name+" TEMPLATE "+tmpl); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() { Drop(t, server, name) })
	return WithDB(server, name)
}

// Drop removes a test database, cutting off any connection left to it.
func Drop(t testing.TB, server, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		t.Errorf("drop test database %s: %v", name, err)
		return
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		t.Errorf("drop test database %s: %v", name, err)
	}
}

// ensureTemplate creates and migrates the template once; test binaries run
// in parallel, so an advisory lock makes one of them do it.
func ensureTemplate(ctx context.Context, admin *pgx.Conn, server, tmpl string) error {
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended('deskmail:pgtest', 0))`); err != nil {
		return err
	}
	defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtextextended('deskmail:pgtest', 0))`)
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, tmpl).Scan(&exists); err != nil {
		return err
	}
	if exists {
		return nil
	}
	// Built under a temporary name and renamed: a template that exists is
	// always complete.
	build := tmpl + "_build"
	if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+build+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+build); err != nil {
		return err
	}
	if _, _, err := store.MigrateURL(ctx, WithDB(server, build)); err != nil {
		return err
	}
	_, err := admin.Exec(ctx, "ALTER DATABASE "+build+" RENAME TO "+tmpl)
	return err
}

// Open opens a fresh PostgreSQL store for the test, with dir as the node's
// own folder; it is closed when the test ends.
func Open(t testing.TB, dir string, opts store.Options) *store.DB {
	t.Helper()
	db, err := store.OpenPostgres(context.Background(), NewDatabase(t), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenPooled is Open through a PgBouncer of the test's own in transaction
// mode (StartBouncer): the store's pools go through the bouncer, its
// LISTEN connection and migrations straight to the database
// (Options.Direct).
func OpenPooled(t testing.TB, dir string, opts store.Options) *store.DB {
	t.Helper()
	b := StartBouncer(t)
	direct := NewDatabase(t)
	opts.Direct = direct
	db, err := store.OpenPostgres(context.Background(), b.URL(direct), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
