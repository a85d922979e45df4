package store

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// tripCounter counts a node's round trips to PostgreSQL through pgx's
// tracer hooks: a statement sent alone (Query, QueryRow, Exec) is one, a
// batch of statements is one; and its statements (stmts), each of a
// batch. It sees the two pools (the committers' and the readers'), not
// the bus's LISTEN connection.
type tripCounter struct{ n, stmts atomic.Int64 }

func (c *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.stmts.Add(1)
	return ctx
}

func (c *tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.stmts.Add(1)
}

func (c *tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// RoundTrips is how many round trips this node has made to PostgreSQL
// since it opened the store (a statement sent alone, or a batch of
// them); 0 with bbolt. Each costs the daemon a write and a read system
// call or more and a wait for the database, whatever the load, so round
// trips per email measure a write path where wall-clock figures are
// noisy (`deskmail bench pipeline` prints them).
func (db *DB) RoundTrips() int64 {
	if db.pg == nil || db.pg.trips == nil {
		return 0
	}
	return db.pg.trips.n.Load()
}

// Statements is how many statements this node has sent to PostgreSQL
// since it opened the store (each of a batch, BEGIN and COMMIT
// included); 0 with bbolt. Each costs the server a parse or bind, an
// executor start and end, whatever it reads: fewer statements per email
// are less of the CPU the database shares with the daemon.
func (db *DB) Statements() int64 {
	if db.pg == nil || db.pg.trips == nil {
		return 0
	}
	return db.pg.trips.stmts.Load()
}
