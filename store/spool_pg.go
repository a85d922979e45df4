package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
)

// Large bodies on PostgreSQL: one row each in bodies, committed before the
// record that points at it (as the spool file is renamed into place before
// its record commits).

const bodyTimeout = time.Minute

func (b *pgBackend) storeBody(name, file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("read spool buffer: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), bodyTimeout)
	defer cancel()
	_, err = b.pool.Exec(ctx, `INSERT INTO bodies (name, data) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET data = EXCLUDED.data, stored_at = now()`, name, data)
	if err != nil {
		return fmt.Errorf("%w: store body: %w", ErrUnavailable, err)
	}
	return nil
}

func (b *pgBackend) openBody(name string) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bodyTimeout)
	defer cancel()
	var data []byte
	err := b.pool.QueryRow(ctx, `SELECT data FROM bodies WHERE name = $1`, name).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("body %s: %w", name, os.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read body: %w", ErrUnavailable, err)
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (b *pgBackend) removeBody(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), bodyTimeout)
	defer cancel()
	_, err := b.pool.Exec(ctx, `DELETE FROM bodies WHERE name = $1`, name)
	return err
}

// orphanAge spares bodies another node may be about to point at: a node
// stores the body, then commits the record, within seconds.
const orphanAge = time.Hour

func (b *pgBackend) sweepBodies(keep func(string) bool) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), bodyTimeout)
	defer cancel()
	rows, err := b.pool.Query(ctx, `SELECT name FROM bodies WHERE stored_at < now() - make_interval(secs => $1)`, orphanAge.Seconds())
	if err != nil {
		return 0, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	n := 0
	for _, name := range names {
		if keep(name) {
			continue
		}
		if err := b.removeBody(name); err == nil {
			n++
		}
	}
	return n, nil
}
