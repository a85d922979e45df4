package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Schema migrations: numbered .sql files embedded in the binary, applied in
// order, each in one transaction together with its row in schema_version.
// A shipped file is never edited; a change is a new file.

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	ents, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, e := range ents {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with its number", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int {
	ms, _ := migrations()
	if len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// ErrSchemaTooNew is returned when the database was migrated by a newer
// deskmail than this one.
var ErrSchemaTooNew = fmt.Errorf("store: database schema is newer than this deskmail")

const sqlVersionTable = `CREATE TABLE IF NOT EXISTS schema_version (
	version integer PRIMARY KEY,
	name text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now())`

// migrateLock serialises nodes that start at the same time.
const migrateLock = `SELECT pg_advisory_xact_lock(hashtextextended('deskmail:migrate', 0))`

func currentVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil {
		return 0, err
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

func tooNew(have int) error {
	return fmt.Errorf("%w: the database is at schema version %d, this deskmail knows up to %d; upgrade deskmail on this node (never run an older node against a newer database)", ErrSchemaTooNew, have, SchemaVersion())
}

// checkSchema fails unless the database is at exactly this binary's version.
func checkSchema(ctx context.Context, pool *pgxpool.Pool) error {
	v, err := currentVersion(ctx, pool)
	if err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	switch {
	case v > SchemaVersion():
		return tooNew(v)
	case v < SchemaVersion():
		return fmt.Errorf("store: the database is at schema version %d, this deskmail needs %d: run `deskmail db migrate`", v, SchemaVersion())
	}
	return nil
}

// Migrate applies the migrations the database lacks and returns how many.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := MigrateCount(ctx, pool)
	return err
}

// MigrateCount is Migrate that tells how many migrations it applied.
func MigrateCount(ctx context.Context, pool *pgxpool.Pool) (int, error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, m := range ms {
		done, err := applyOne(ctx, pool, m)
		if err != nil {
			return applied, err
		}
		if done {
			applied++
		}
	}
	if v, err := currentVersion(ctx, pool); err == nil && v > SchemaVersion() {
		return applied, tooNew(v)
	}
	return applied, nil
}

// applyOne applies m in its own transaction unless it is already there.
func applyOne(ctx context.Context, pool *pgxpool.Pool, m migration) (bool, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, migrateLock); err != nil {
		return false, fmt.Errorf("migrate: lock: %w", err)
	}
	// And the writers' lock: a migration that rewrites data must not
	// interleave with the batches of nodes still running.
	if _, err := tx.Exec(ctx, sqlWriterLock); err != nil {
		return false, fmt.Errorf("migrate: writer lock: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlVersionTable); err != nil {
		return false, fmt.Errorf("migrate: version table: %w", err)
	}
	v, err := currentVersion(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("migrate: read version: %w", err)
	}
	if v > SchemaVersion() {
		return false, tooNew(v)
	}
	if v >= m.version {
		return false, nil
	}
	if _, err := tx.Exec(ctx, m.sql); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
		return false, fmt.Errorf("migration %s: %w", m.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migration %s: commit: %w", m.name, err)
	}
	return true, nil
}

// MigrateURL connects to url and migrates it (deskmail db migrate).
func MigrateURL(ctx context.Context, url string) (applied, version int, err error) {
	pool, err := migrationPool(ctx, url)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	applied, err = MigrateCount(ctx, pool)
	if err != nil {
		return applied, 0, err
	}
	version, err = currentVersion(ctx, pool)
	return applied, version, err
}

// MigrationSQL returns the text of every migration in order (test
// templates are named after it).
func MigrationSQL() []string {
	ms, _ := migrations()
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.sql
	}
	return out
}
