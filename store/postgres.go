package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL backend keeps every bucket in one table, kv(bucket, key,
// value), ordered by (bucket, key) exactly as bbolt orders a bucket
// (bytea compares as bytes), so Scan, ScanReverse and LastKey mean the
// same on both backends. Large message bodies live in their own table,
// bodies(name, data); bucket sequences are PostgreSQL sequences, unique
// across nodes.
//
// Isolation: every Update batch runs in one READ COMMITTED transaction
// that takes its locks in the round trip that begins it, before any
// statement that reads, so each later statement sees everything committed
// before they were granted. A batch whose functions all declared their
// locks (Locks, SharedLocks) holds the cluster's writer lock shared and
// each named advisory lock, sorted; any other batch holds the writer lock
// exclusively and runs alone, serial and so serializable, as every write
// did before locks were declared. Names cover data by convention (see
// Locks and the table in docs/ARCHITECTURE.md). Should the database
// report a serialization failure or deadlock (SQLSTATE 40001 or 40P01,
// possible only between locks taken with Tx.Lock after others),
// DB.commit runs the batch again, the one place that retries. Reads
// (View) run in REPEATABLE READ READ ONLY: one consistent snapshot, as a
// bbolt read transaction gives.
//
// Round trips: a batch costs two when its functions name what they read
// (Reads, ReadsLast, ReadsRange, Draws): BEGIN, the lock and those reads in one, the
// queued writes with the COMMIT in the other. A Get of a key not named is
// one more; a function that fails is undone alone (its queued writes
// dropped, or a savepoint rolled back to when some were sent already).

// IsPostgres tells whether a --store value names a PostgreSQL database.
func IsPostgres(spec string) bool {
	return strings.HasPrefix(spec, "postgres://") || strings.HasPrefix(spec, "postgresql://")
}

// OpenStore opens the store named by spec: empty for the bbolt file in
// dir, a postgres:// URL for PostgreSQL (dir then holds only the node's
// own files).
func OpenStore(spec, dir string, opts Options) (*DB, error) {
	switch {
	case spec == "" || spec == "bolt" || spec == "bbolt":
		return Open(dir, opts)
	case IsPostgres(spec):
		return OpenPostgres(context.Background(), spec, dir, opts)
	}
	return nil, fmt.Errorf("store %q: want a postgres:// URL, or nothing for the data folder's bbolt file", Redact(spec))
}

// Redact hides the password of a database URL for logs and errors.
func Redact(spec string) string {
	cfg, err := pgconn.ParseConfig(spec)
	if err != nil || cfg.Password == "" {
		return spec
	}
	return strings.Replace(spec, ":"+cfg.Password+"@", ":xxxxx@", 1)
}

// connectTimeout bounds the first contact with the database at start.
const connectTimeout = 10 * time.Second

// OpenPostgres connects to the database at url, applies the migrations
// this binary carries (unless opts.NoMigrate) and refuses a schema newer
// than it knows.
//
// url may go through a pooler in transaction mode (PgBouncer): the store
// then names no prepared statement (pgx's describe cache, one round trip
// per statement as before), and opts.Direct, a URL of the same database
// that bypasses the pooler, carries what a pooled connection cannot: the
// bus's LISTEN and the migrations. Without opts.Direct the store finds a
// pooler out itself (two sessions that share one server process) and,
// when opts.Listen says the caller will Subscribe, refuses to start.
func OpenPostgres(ctx context.Context, url, dir string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	trips := &tripCounter{}
	cfg.ConnConfig.Tracer = trips
	if !strings.Contains(url, "pool_min_conns") {
		cfg.MinConns = min(warmReaders, cfg.MaxConns) // kept open, not re-dialled when idle
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	pooled := opts.Direct != ""
	if pooled {
		if err := checkDirect(cctx, cfg.ConnConfig, opts.Direct); err != nil {
			return nil, err
		}
	} else {
		pid, err := behindPooler(cctx, cfg.ConnConfig)
		if err != nil {
			return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
		}
		if pooled = pid != 0; pooled && opts.Listen {
			return nil, fmt.Errorf("store: %s goes through a pooler in transaction mode (two of its sessions ran on server process %d): LISTEN, which carries the nodes' wake-ups, cannot work through it; set store-direct to a URL of the same database that bypasses the pooler", Redact(url), pid)
		}
	}
	if pooled && !strings.Contains(url, "default_query_exec_mode") {
		// Named prepared statements live on one server connection, and
		// the pooler hands each transaction any: describe once, then send
		// each statement with its text (unnamed, one round trip).
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheDescribe
	}
	pool, err := pgxpool.NewWithConfig(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	if err := pool.Ping(cctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	mpool := pool
	if opts.Direct != "" {
		// Migrations straight to the database: a long one must not meet
		// the pooler's query timeout.
		if mpool, err = migrationPool(cctx, opts.Direct); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if opts.NoMigrate {
		err = checkSchema(cctx, mpool)
	} else {
		err = Migrate(cctx, mpool)
	}
	if mpool != pool {
		mpool.Close()
	}
	if err != nil {
		pool.Close()
		return nil, err
	}
	if dir != "" && !opts.ReadOnly {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			pool.Close()
			return nil, fmt.Errorf("create data folder: %w", err)
		}
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	// The committers (Options.Committers, each one transaction at a time)
	// have connections of their own, so that they never queue for one
	// behind the readers (32 pipeline workers can hold every connection
	// of the pool).
	n := opts.Committers
	if n <= 0 {
		n = 4
	}
	wcfg := cfg.Copy()
	// n for writes that declare their locks, one for those that do not,
	// backgroundCommitters for background writes (see commitLoop).
	wcfg.MaxConns, wcfg.MinConns = int32(n+1+backgroundCommitters), int32(n+1+backgroundCommitters)
	if cfg.ConnConfig.DefaultQueryExecMode == pgx.QueryExecModeCacheStatement {
		wcfg.AfterConnect = prepareHot
	}
	wpool, err := pgxpool.NewWithConfig(ctx, wcfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	listen := url
	if opts.Direct != "" {
		listen = opts.Direct
	}
	be := &pgBackend{pool: pool, wpool: wpool, url: listen, node: hex.EncodeToString(id[:]), committers: n, trips: trips}
	// Does the server have lz4? Asked in a statement of its own (its
	// implicit transaction ends with it, and the setting too).
	_, lzErr := pool.Exec(cctx, `SELECT set_config('default_toast_compression', 'lz4', true)`)
	be.lz4 = lzErr == nil
	if !opts.ReadOnly {
		if err := be.warm(cctx); err != nil {
			wpool.Close()
			pool.Close()
			return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
		}
	}
	be.bus = newBus(be)
	return start(dir, be, be, opts), nil
}

// behindPooler tells whether connections made with cfg go through a
// pooler in transaction (or statement) mode: it returns the server
// process that two client sessions shared, or 0. A session of its own
// asks its server process, then a second session, in a transaction, asks
// its own: straight to PostgreSQL the two always differ; a transaction
// pooler gives the second the server connection the first just let go
// (PgBouncer reuses the most recent one), or else gives the first, asked
// again, another one. A pooler in session mode keeps sessions apart and
// is not one (nothing breaks behind it).
func behindPooler(ctx context.Context, cfg *pgx.ConnConfig) (int32, error) {
	var conns [2]*pgx.Conn
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.Close(context.Background())
			}
		}
	}()
	for i := range conns {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return 0, err
		}
		conns[i] = c
	}
	pid := func(c *pgx.Conn) (int32, error) {
		var p int32
		err := c.QueryRow(ctx, `SELECT pg_backend_pid()`, pgx.QueryExecModeSimpleProtocol).Scan(&p)
		return p, err
	}
	first, err := pid(conns[0])
	if err != nil {
		return 0, err
	}
	if _, err := conns[1].Exec(ctx, `BEGIN`); err != nil {
		return 0, err
	}
	second, err := pid(conns[1])
	if err != nil {
		return 0, err
	}
	if second == first {
		return first, nil
	}
	again, err := pid(conns[0])
	if err != nil {
		return 0, err
	}
	if again != first {
		return first, nil
	}
	return 0, nil
}

// checkDirect refuses a direct URL that reaches another database than the
// pooled one, or goes through a transaction pooler itself.
func checkDirect(ctx context.Context, pooled *pgx.ConnConfig, direct string) error {
	dcfg, err := pgx.ParseConfig(direct)
	if err != nil {
		return fmt.Errorf("store-direct URL: %w", err)
	}
	if dcfg.ConnectTimeout == 0 {
		dcfg.ConnectTimeout = 5 * time.Second
	}
	name := func(cfg *pgx.ConnConfig, what string) (string, error) {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return "", fmt.Errorf("connect to %s (%s): %w", redactConfig(cfg), what, err)
		}
		defer c.Close(context.Background())
		var n string
		err = c.QueryRow(ctx, `SELECT current_database()`, pgx.QueryExecModeSimpleProtocol).Scan(&n)
		return n, err
	}
	pn, err := name(pooled, "store")
	if err != nil {
		return err
	}
	dn, err := name(dcfg, "store-direct")
	if err != nil {
		return err
	}
	if pn != dn {
		return fmt.Errorf("store-direct reaches database %q, store reaches %q: they must be the same database", dn, pn)
	}
	pid, err := behindPooler(ctx, dcfg)
	if err != nil {
		return fmt.Errorf("connect to %s (store-direct): %w", Redact(direct), err)
	}
	if pid != 0 {
		return fmt.Errorf("store-direct %s goes through a pooler in transaction mode too (two of its sessions ran on server process %d): it must reach PostgreSQL directly (or through a pooler in session mode)", Redact(direct), pid)
	}
	return nil
}

func redactConfig(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// migrationPool is one connection for migrations, naming no prepared
// statement (safe through any pooler).
func migrationPool(ctx context.Context, url string) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store URL: %w", err)
	}
	cfg.MaxConns, cfg.MinConns = 1, 0
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to %s: %w", Redact(url), err)
	}
	return pool, nil
}

// pgBackend is a pool of connections to one shared database.
type pgBackend struct {
	pool  *pgxpool.Pool // reads, bodies, notes, exclusive jobs
	wpool *pgxpool.Pool // the committer's write transactions
	url   string        // where the bus listens: the direct URL behind a pooler
	node  string        // tells this node's own notifications apart
	seqs  sync.Map
	bus   *bus
	// committers is how many write transactions run at once (one
	// connection of wpool each).
	committers int
	trips      *tripCounter
	rows       rowCounter // DB.RowsSent
	// lz4: the server compresses with lz4 (PostgreSQL 14 and later,
	// built with it), which write transactions then ask for (sqlLZ4).
	lz4 bool
}

// hotSQL are the statements every write transaction sends; each
// committer connection prepares them when it connects, so the first
// messages after a start do not pay a prepare each.
var hotSQL = []string{sqlGet, sqlPut, sqlDelete, sqlLastKey, sqlScan, sqlScanAfter, sqlScanTo, sqlScanAfterTo, sqlScanBack, sqlScanLast,
	sqlGetMany, sqlPutMany, sqlDeleteMany, sqlInsert, sqlInsertMany, sqlWrite, sqlScanRanges, sqlDraw, sqlNotifyMany, sqlWriterLockKeyed, sqlWriterSharedKeyed, sqlWriterLockKeyedLZ4, sqlWriterSharedKeyedLZ4, sqlWriterSharedLocks, sqlWriterSharedLocksLZ4, sqlWriterSharedMarkedLocks, sqlWriterSharedMarkedLocksLZ4, sqlLock, sqlTryLock, sqlTryLockMany}

func prepareHot(ctx context.Context, conn *pgx.Conn) error {
	for _, q := range slices.Concat(hotSQL, sqlPrefetch[1:]) {
		if _, err := conn.Prepare(ctx, q, q); err != nil {
			return err
		}
	}
	return nil
}

// warm opens every committer connection (each prepares the hot
// statements) and learns the sequences that exist already, so that a
// node that starts pays neither on its first messages.
func (b *pgBackend) warm(ctx context.Context) error {
	// Each pool's connections are held together (so that each Acquire
	// opens a new one) and all given back before anything else asks the
	// pool for one: a pool of pool_max_conns=warmReaders or fewer would
	// otherwise wait for itself until ctx ends.
	open := func(p *pgxpool.Pool, n int) error {
		conns := make([]*pgxpool.Conn, 0, n)
		defer func() {
			for _, c := range conns {
				c.Release()
			}
		}()
		for range n {
			c, err := p.Acquire(ctx)
			if err != nil {
				return err
			}
			conns = append(conns, c)
		}
		return nil
	}
	if err := open(b.wpool, b.committers+1+backgroundCommitters); err != nil {
		return err
	}
	// And a few readers, opened at once rather than by the first
	// messages' pipeline reads.
	if err := open(b.pool, min(warmReaders, int(b.pool.Config().MaxConns))); err != nil {
		return err
	}
	rows, err := b.pool.Query(ctx, `SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'kvseq\_%' AND relnamespace = current_schema()::regnamespace`)
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	for _, n := range names {
		b.seqs.Store(n, true)
	}
	knownMu.Lock()
	buckets := slices.Clone(knownSeqs)
	knownMu.Unlock()
	for _, bucket := range buckets {
		if _, err := b.ensureSequence(ctx, bucket); err != nil {
			return err
		}
	}
	return nil
}

// warmReaders is how many connections of the shared pool a starting
// node opens before it serves.
const warmReaders = 4

var (
	knownMu   sync.Mutex
	knownSeqs []string
)

// KnownSequences names buckets whose Sequence the daemon draws from: a
// node on PostgreSQL creates their sequences when it starts rather than
// on the first message that needs one. Domain packages call it from init.
func KnownSequences(buckets ...string) {
	knownMu.Lock()
	defer knownMu.Unlock()
	knownSeqs = append(knownSeqs, buckets...)
}

func (b *pgBackend) begin(ctx context.Context, writable bool, reads []readKey, locks *lockSet) (txOps, error) {
	if !writable {
		// The BEGIN goes with the first read (see pgTx.ro and
		// sendFirst, which tries another connection when a pooled one
		// died while idle).
		conn, err := b.pool.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("%w: begin: %w", ErrUnavailable, err)
		}
		t := &pgTx{ctx: ctx, q: conn, conn: conn, ro: true, be: b}
		t.pending.Queue(sqlBeginRead)
		return t, nil
	}
	// A batch whose functions all declared their locks (store.Locks)
	// takes the cluster's writer lock shared and each named lock
	// exclusively, sorted (so two batches never wait for each other in a
	// circle), in the round trip that begins it, before any statement
	// that reads: under READ COMMITTED each later statement sees all that
	// committed before its locks were granted. Any other batch takes the
	// writer lock exclusively, waiting for every batch in flight and
	// keeping new ones out (PostgreSQL queues a shared request behind a
	// waiting exclusive one): such a batch runs alone, serializable by
	// construction, as every write did before locks were declared.
	// A committer's connection that died while idle (a database restart)
	// fails the first round trip with nothing done; the next of the
	// committers' connections is tried, so that a restart costs no write
	// per dead connection.
	for attempt := 0; ; attempt++ {
		t, err := b.beginWrite(ctx, reads, locks)
		if err == nil || !errors.Is(err, errDeadConn) || attempt >= b.committers {
			return t, err
		}
	}
}

// beginRead begins a read transaction (REPEATABLE READ READ ONLY). A
// pooled connection that died while idle (a database restart) fails its
// BEGIN and is dropped; beginning a read again is harmless, so the next
// connection is tried.
func (b *pgBackend) beginRead(ctx context.Context) (pgx.Tx, error) {
	var err error
	for range warmReaders + 2 {
		var tx pgx.Tx
		if tx, err = b.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}); err == nil {
			return tx, nil
		}
		var ce *pgconn.ConnectError
		if ctx.Err() != nil || errors.As(err, &ce) {
			break // no connection to be had: the database is away
		}
	}
	return nil, fmt.Errorf("%w: begin: %w", ErrUnavailable, err)
}

// errDeadConn marks a begin that failed on a connection that is closed.
var errDeadConn = errors.New("connection closed")

func (b *pgBackend) beginWrite(ctx context.Context, reads []readKey, locks *lockSet) (txOps, error) {
	conn, err := b.wpool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	t := &pgTx{ctx: ctx, q: conn, be: b, rw: true, conn: conn}
	var batch pgx.Batch
	batch.Queue(`BEGIN ISOLATION LEVEL READ COMMITTED`)
	barriers := false
	if locks != nil && locks.keyed {
		t.keyed = true
		t.excl = make(map[int64]bool, len(locks.names))
		for _, n := range locks.names {
			t.excl[lockID(n)] = true
		}
		ids, shared := lockIDs(locks)
		switch {
		// A holder of shared names marks itself (its connection's
		// mark, sqlMark) before it takes them: a barrier on those
		// names waits for the holders it finds through their marks.
		case len(locks.shared) > 0 && b.lz4:
			batch.Queue(sqlWriterSharedMarkedLocksLZ4, ids, shared)
		case len(locks.shared) > 0:
			batch.Queue(sqlWriterSharedMarkedLocks, ids, shared)
		case len(ids) > 0 && b.lz4:
			batch.Queue(sqlWriterSharedLocksLZ4, ids, shared)
		case len(ids) > 0:
			batch.Queue(sqlWriterSharedLocks, ids, shared)
		case b.lz4:
			batch.Queue(sqlWriterSharedKeyedLZ4)
		default:
			batch.Queue(sqlWriterSharedKeyed)
		}
		if len(ids) > 0 {
			// Held from here on, exclusively: a Tx.Lock of a declared
			// name costs no round trip, and whatever the transaction
			// reads is read after it was granted.
			for i, id := range ids {
				if !shared[i] {
					if t.held == nil {
						t.held = map[int64]bool{}
					}
					t.held[id] = true
				}
			}
		}
		if ids, _ := lockIDs(&lockSet{names: locks.barriers}); len(ids) > 0 {
			// The wait is the point (sqlBarrier): for the transactions
			// that hold one of the names now, not for those that take
			// them later. A connection lost half way ends its session,
			// which releases the session locks it took.
			batch.Queue(sqlBarrier, ids)
			barriers = true
		}
	} else if b.lz4 {
		batch.Queue(sqlWriterLockKeyedLZ4)
	} else {
		batch.Queue(sqlWriterLockKeyed)
	}
	if err := t.prefetch(&batch, reads); err != nil {
		endConn(conn)
		return nil, err
	}
	if err := conn.SendBatch(ctx, &batch).Close(); err != nil {
		dead := conn.Conn().IsClosed()
		if barriers && !dead {
			// The barrier may have failed half way (a statement_timeout
			// while it waited), holding the session locks it took before:
			// a rollback keeps them, only the session's end lets them go
			// (through a pooler too: PgBouncer drops a server connection
			// whose client leaves mid-transaction).
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = conn.Conn().Close(cctx)
			cancel()
		}
		endConn(conn)
		if dead && ctx.Err() == nil {
			return nil, fmt.Errorf("%w: begin: %w: %w", ErrUnavailable, errDeadConn, err)
		}
		return nil, fmt.Errorf("%w: begin: %w", ErrUnavailable, err)
	}
	return t, nil
}

// lockID is the advisory lock key of a lock name (store.Locks, Tx.Lock):
// 64 bits of FNV-1a. Two names that collide only serialise more than
// they need to.
func lockID(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("deskmail:lock:"))
	h.Write([]byte(name))
	return int64(h.Sum64())
}

// lockIDs are the distinct keys of the declared locks, in the one order
// every transaction takes them, and for each whether it is taken shared
// (only when no function of the batch wants it exclusive). Family locks
// (names without a colon) come first, then the others
// sorted by key: declared locks never wait in a circle, and a transaction
// that queues for a family lock holds no finer lock meanwhile, so a
// transaction holding the family lock that waits for a finer lock (taken
// with Tx.Lock) never waits for it.
func lockIDs(l *lockSet) ([]int64, []bool) {
	type lk struct {
		family bool
		id     int64
	}
	mode := map[lk]bool{}
	key := func(n string) lk { return lk{!strings.Contains(n, ":"), lockID(n)} }
	for _, n := range l.shared {
		mode[key(n)] = true
	}
	for _, n := range l.names {
		mode[key(n)] = false
	}
	keys := make([]lk, 0, len(mode))
	for k := range mode {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b lk) int {
		if a.family != b.family {
			if a.family {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.id, b.id)
	})
	ids, shared := make([]int64, len(keys)), make([]bool, len(keys))
	for i, k := range keys {
		ids[i], shared[i] = k.id, mode[k]
	}
	return ids, shared
}

const (
	// sqlWriterShared is the writer lock in shared mode: batches that
	// declared their locks hold it together.
	sqlWriterShared = `SELECT pg_advisory_xact_lock_shared(hashtextextended('deskmail:writer', 0))`
	// sqlWriterSharedKeyed and sqlWriterLockKeyed are the writer lock of
	// a write transaction together with its planner settings (sqlKeyPlans).
	sqlWriterSharedKeyed = sqlWriterShared + `, ` + sqlKeyPlans
	sqlWriterLockKeyed   = sqlWriterLock + `, ` + sqlKeyPlans
	// sqlWriterSharedKeyedMarked is sqlWriterSharedKeyed for a
	// transaction that takes shared names: with its mark (sqlBarrier).
	sqlWriterSharedKeyedMarked = sqlWriterShared + `, ` + sqlMark + `, ` + sqlKeyPlans
	// sqlLZ4 has the transaction compress the values it stores with lz4
	// rather than PostgreSQL's default, pglz: a value of more than about
	// 2 KB is compressed before it is stored (an email's raw bytes, a
	// message), and pglz's compression was 2-3% of the server's CPU per
	// email end to end; lz4 compresses several times faster, and reads
	// it back faster too. Only where the server has lz4 (pgBackend.lz4);
	// values already stored keep their method, and reading either needs
	// nothing.
	sqlLZ4                  = `, set_config('default_toast_compression', 'lz4', true)`
	sqlWriterSharedKeyedLZ4 = sqlWriterSharedKeyed + sqlLZ4
	sqlWriterLockKeyedLZ4   = sqlWriterLockKeyed + sqlLZ4
	// sqlWriterSharedLocks is sqlWriterSharedKeyed and sqlLockMany in
	// one statement (one executor start and end fewer per transaction):
	// PostgreSQL evaluates a target list in order, the writer lock
	// first, then the subquery, which takes the declared locks in the
	// order given.
	sqlWriterSharedLocks    = sqlWriterSharedKeyed + `, (SELECT count(*) FROM (` + sqlLockMany + `) AS l)`
	sqlWriterSharedLocksLZ4 = sqlWriterSharedKeyedLZ4 + `, (SELECT count(*) FROM (` + sqlLockMany + `) AS l)`
	// sqlWriterSharedMarkedLocks is sqlWriterSharedLocks for a
	// transaction that takes shared names: its mark comes before the
	// names (the target list is evaluated in order).
	sqlWriterSharedMarkedLocks    = sqlWriterSharedKeyedMarked + `, (SELECT count(*) FROM (` + sqlLockMany + `) AS l)`
	sqlWriterSharedMarkedLocksLZ4 = sqlWriterSharedKeyedMarked + sqlLZ4 + `, (SELECT count(*) FROM (` + sqlLockMany + `) AS l)`
	// sqlKeyPlans keeps a write transaction's statements on kv's index
	// (for the transaction only: set_config's true). Every one of them
	// reads or writes rows by key, which the primary key finds in a few
	// page reads however large kv is; but PostgreSQL plans a prepared
	// statement once for good after its fifth run (a generic plan), and a
	// multi-row DELETE planned while kv held a few dozen pages (a new
	// database, a node's first emails) was a hash join over a scan of
	// the whole table, kept while kv grew to millions of rows (until an
	// ANALYZE of kv; never, with autovacuum off): every delete then read
	// every row (seen as a tenth of the bench runs taking ten times as
	// long, the database reading 30,000 rows per email). Scans and hash
	// or merge joins are only disfavoured: a statement with no other way
	// still runs. And generic plans always (plan_cache_mode): the
	// statements that take arrays of keys (sqlGetMany, sqlPutMany,
	// sqlDeleteMany, sqlLockMany, sqlSnapshot) were otherwise planned
	// again at every run, PostgreSQL keeping to custom plans while they
	// look cheaper than the generic one, which they do for a few keys
	// (0.1-0.2 ms of the server's CPU a statement, the most of a seen-ack's
	// snapshot).
	sqlKeyPlans = `set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`
	// sqlLockMany takes the declared locks in the order given (sorted),
	// each shared or exclusive.
	sqlLockMany = `SELECT CASE WHEN s THEN pg_advisory_xact_lock_shared(h) ELSE pg_advisory_xact_lock(h) END
	FROM unnest($1::bigint[], $2::bool[]) WITH ORDINALITY AS u(h, s, i) ORDER BY i`
	sqlLock    = `SELECT pg_advisory_xact_lock($1)`
	sqlTryLock = `SELECT pg_try_advisory_xact_lock($1)`
	// sqlTryLockMany tries several locks, answering in the
	// order given (Tx.TryLockAll: a claim's candidates).
	sqlTryLockMany = `SELECT pg_try_advisory_xact_lock(h) FROM unnest($1::bigint[]) WITH ORDINALITY AS u(h, i) ORDER BY i`
)

// prefetch queues, after the writer lock, what the batch's functions said
// they will read (store.Reads, ReadsLast, ReadsRange, Draws), so that it
// all comes back in the round trip that begins the transaction, and in
// one statement (sqlPrefetch): an accept reads its dedupe key and the
// journal's last key and draws from two sequences, a pipeline commit
// reads its emails' keys and ordering ranges and draws a tag.
func (t *pgTx) prefetch(batch *pgx.Batch, reads []readKey) error {
	var buckets, cks []string
	var keys [][]byte
	var ranges []Range
	draws := map[string]int{}
	last := map[string]bool{}
	for _, r := range reads {
		switch r.kind {
		case readGet:
			ck := cacheKey(r.bucket, r.key)
			buckets, keys, cks = append(buckets, r.bucket), append(keys, r.key), append(cks, ck)
			t.rememberKey(ck, nil) // absent unless found below
		case readLast:
			last[r.bucket] = true
		case readSeq:
			draws[r.bucket]++
		case readRange:
			ranges = append(ranges, Range{Bucket: r.bucket, From: r.key, To: r.end})
		}
	}
	var lastBuckets []string
	for bucket := range last {
		lastBuckets = append(lastBuckets, bucket)
	}
	var seqBuckets, seqNames []string
	var seqCounts []int32
	for bucket, n := range draws {
		name, err := t.be.ensureSequence(t.ctx, bucket)
		if err != nil {
			return err
		}
		seqBuckets, seqNames, seqCounts = append(seqBuckets, bucket), append(seqNames, name), append(seqCounts, int32(min(n, maxSeqDraw)))
	}
	rr := newRangeRead(ranges)
	var parts int
	var args []any
	if len(keys) > 0 {
		parts |= pfGet
		args = append(args, textArray(buckets), byteaArray(keys))
		t.be.rows.reads.Add(int64(len(keys)))
	}
	if len(lastBuckets) > 0 {
		parts |= pfLast
		args = append(args, textArray(lastBuckets))
		if t.last == nil {
			t.last = map[string][]byte{}
		}
		for _, bucket := range lastBuckets {
			t.last[bucket] = nil // empty unless a row comes
		}
	}
	if rr != nil {
		parts |= pfRanges
		args = append(args, rr.args()...)
	}
	if len(seqNames) > 0 {
		parts |= pfDraws
		args = append(args, seqNames, seqCounts)
		if t.seqs == nil {
			t.seqs = map[string][]int64{}
		}
	}
	if parts == 0 {
		return nil
	}
	batch.Queue(sqlPrefetch[parts], args...).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var kind int32
			var i int64
			var k, v []byte
			var n *int64
			if err := rows.Scan(&kind, &i, &k, &v, &n); err != nil {
				return err
			}
			switch {
			case kind == pfKindGet && i >= 1 && int(i) <= len(keys):
				if v == nil {
					v = []byte{}
				}
				// Each key was remembered absent above: a row found
				// replaces that.
				t.rememberKey(cks[i-1], v)
			case kind == pfKindLast && i >= 1 && int(i) <= len(lastBuckets):
				t.last[lastBuckets[i-1]] = k
			case kind == pfKindRange && rr != nil:
				if err := rr.row(t, i, k, v); err != nil {
					return err
				}
			case kind == pfKindDraw && i >= 1 && int(i) <= len(seqBuckets) && n != nil:
				t.seqs[seqBuckets[i-1]] = append(t.seqs[seqBuckets[i-1]], *n)
			default:
				return fmt.Errorf("store: prefetch: unexpected row %d/%d", kind, i)
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, ck := range cks {
			t.knowRowKey(ck, t.seen[ck] != nil)
		}
		if rr != nil {
			rr.done(t)
		}
		for _, bucket := range seqBuckets {
			slices.Sort(t.seqs[bucket]) // in the order drawn
		}
		return nil
	})
	return nil
}

// The parts of sqlPrefetch, and the kind of row each answers with (its
// first column).
const (
	pfGet    = 1 << iota // keys by name ($ buckets, keys): the row's value, by the key's number from 1
	pfLast               // the last key of buckets ($ buckets): the key, by the bucket's number
	pfRanges             // ranges (rangeRead.args): the rows, by range as sqlScanRanges numbers them
	pfDraws              // sequence values ($ sequences, counts): each value, by the sequence's number
)

const (
	pfKindGet = iota
	pfKindLast
	pfKindRange
	pfKindDraw
)

// sqlPrefetch is the one statement of a write transaction's named reads
// (prefetch), by the parts it has: keys by name (Reads, as sqlGetMany),
// the last keys (ReadsLast), ranges (ReadsRange, as sqlScanRanges) and
// the draws (Draws) as the branches of one UNION ALL, each row (kind, number, key, value, drawn value). One
// statement, not up to four, is one executor start and end and one
// snapshot (under READ COMMITTED the reads then agree with each other,
// all taken after the locks of the statement before). The draws' values
// come in no particular order across the branches: prefetch sorts them.
var sqlPrefetch = func() (out [1 << 4]string) {
	for parts := 1; parts < len(out); parts++ {
		n := 0
		p := func() string { n++; return fmt.Sprintf("$%d", n) }
		var branches []string
		if parts&pfGet != 0 {
			branches = append(branches, fmt.Sprintf(`SELECT %d, r.i, NULL::bytea, v.value, NULL::bigint
	FROM unnest(%s::text[], %s::bytea[]) WITH ORDINALITY AS r(bucket, key, i)
	CROSS JOIN LATERAL (SELECT value FROM kv WHERE kv.bucket = r.bucket AND kv.key = r.key LIMIT 1) AS v`, pfKindGet, p(), p()))
		}
		if parts&pfLast != 0 {
			branches = append(branches, fmt.Sprintf(`SELECT %d, l.i, v.key, NULL::bytea, NULL::bigint
	FROM unnest(%s::text[]) WITH ORDINALITY AS l(bucket, i)
	CROSS JOIN LATERAL (SELECT key FROM kv WHERE kv.bucket = l.bucket ORDER BY kv.key DESC LIMIT 1) AS v`, pfKindLast, p()))
		}
		if parts&pfRanges != 0 {
			b, lo, hi, ub, ulo, lim := p(), p(), p(), p(), p(), p()
			branches = append(branches, fmt.Sprintf(`SELECT %d, r.i, v.key, v.value, NULL::bigint
	FROM unnest(%s::text[], %s::bytea[], %s::bytea[]) WITH ORDINALITY AS r(bucket, lo, hi, i)
	CROSS JOIN LATERAL (SELECT key, value FROM kv WHERE kv.bucket = r.bucket AND kv.key >= r.lo AND kv.key < r.hi
		ORDER BY kv.key LIMIT %s) AS v`, pfKindRange, b, lo, hi, lim),
				fmt.Sprintf(`SELECT %d, -r.i, v.key, v.value, NULL::bigint
	FROM unnest(%s::text[], %s::bytea[]) WITH ORDINALITY AS r(bucket, lo, i)
	CROSS JOIN LATERAL (SELECT key, value FROM kv WHERE kv.bucket = r.bucket AND kv.key >= r.lo
		ORDER BY kv.key LIMIT %s) AS v`, pfKindRange, ub, ulo, lim))
		}
		if parts&pfDraws != 0 {
			branches = append(branches, fmt.Sprintf(`SELECT %d, u.i, NULL::bytea, NULL::bytea, nextval(u.s::regclass)
	FROM unnest(%s::text[], %s::int[]) WITH ORDINALITY AS u(s, n, i)
	CROSS JOIN LATERAL generate_series(1, u.n)`, pfKindDraw, p(), p()))
		}
		out[parts] = strings.Join(branches, "\nUNION ALL\n")
	}
	return out
}()

// queueGetMany queues sqlGetMany for the keys and calls found with each
// key that exists (an empty value as an empty slice, never nil).
func queueGetMany(batch *pgx.Batch, buckets []string, keys [][]byte, found func(bucket string, k, v []byte)) {
	batch.Queue(sqlGetMany, textArray(buckets), byteaArray(keys)).Query(func(rows pgx.Rows) error { return collectMany(rows, found) })
}

// collectMany hands each row of sqlGetMany to found.
func collectMany(rows pgx.Rows, found func(bucket string, k, v []byte)) error {
	for rows.Next() {
		var bucket string
		var k, v []byte
		if err := rows.Scan(&bucket, &k, &v); err != nil {
			return err
		}
		if v == nil {
			v = []byte{}
		}
		found(bucket, k, v)
	}
	return rows.Err()
}

// sqlGetMany reads keys all at once (Tx.Prefetch and PrefetchRanges'
// keys, a lock's fresh reads, Get of several): one index lookup per key
// (the keys named by Reads go in sqlPrefetch, with the same lookup). The LIMIT keeps the planner from flattening the
// subquery into a join, which a generic plan (it cannot know how many
// keys come) may run as a scan of the whole table.
const sqlGetMany = `SELECT r.bucket, r.key, v.value FROM unnest($1::text[], $2::bytea[]) AS r(bucket, key)
	CROSS JOIN LATERAL (SELECT value FROM kv WHERE kv.bucket = r.bucket AND kv.key = r.key LIMIT 1) AS v`

// sqlGetHeld is sqlGetMany for the fresh reads of TryLockAllLimit:
// each key comes with its lock ($3), and a key is read only if this
// transaction holds that lock (asked in the statement before: a session
// lock of the same number is granted to the transaction's own backend
// and given back at once, to another's refused; a lock free again by
// now is read and dropped, its try having failed). The values of the
// keys marked in $4 are read only while their sizes, in the order
// given, add up to at most $5 (octet_length does not detoast them).
const sqlGetHeld = `SELECT bucket, key, value FROM (
	SELECT r.bucket, r.key, v.value, r.lim, sum(CASE WHEN r.lim THEN octet_length(v.value) ELSE 0 END) OVER (ORDER BY r.i) AS used
	FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bool[]) WITH ORDINALITY AS r(bucket, key, h, lim, i)
	CROSS JOIN LATERAL (SELECT value FROM kv WHERE kv.bucket = r.bucket AND kv.key = r.key LIMIT 1) AS v
	WHERE CASE WHEN pg_try_advisory_lock(r.h) THEN pg_advisory_unlock(r.h) ELSE false END
) AS s WHERE NOT s.lim OR s.used <= $5`

// sqlSnapshotPlans is sqlKeyPlans for a Snapshot's statement, sent just
// before it (its implicit transaction ends with the statement, and the
// settings with it).
const sqlSnapshotPlans = `SELECT ` + sqlKeyPlans

// sqlWriterLock is the cluster's writer lock, held until the transaction
// ends.
const sqlWriterLock = `SELECT pg_advisory_xact_lock(hashtextextended('deskmail:writer', 0))`

// endConn rolls back whatever the connection still has open and gives it
// back to the pool; a connection that cannot roll back is closed, which
// ends its transaction and releases its locks too.
func endConn(conn *pgxpool.Conn) {
	if conn.Conn().PgConn().TxStatus() != 'I' {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := conn.Exec(ctx, `ROLLBACK`); err != nil {
			_ = conn.Conn().Close(ctx)
		}
		cancel()
	}
	conn.Release()
}

func (b *pgBackend) size() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var n int64
	_ = b.pool.QueryRow(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
	return n
}

func (b *pgBackend) close() error {
	b.bus.close()
	b.wpool.Close()
	b.pool.Close()
	return nil
}

func (b *pgBackend) retryable(err error) bool {
	var pe *pgconn.PgError
	// 23505 on kv: a put sent as a plain INSERT met a row (pgTx.rows
	// says the key was absent: read so under a lock that, broken
	// promise, did not cover it). errRowsGone: a put sent as a plain
	// UPDATE met no row (the same, the other way). Run again, the batch
	// reads the key afresh and writes it, or decides otherwise, as it
	// would have seeing it.
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "23505" && pe.TableName == "kv" ||
		pe.Code == "22P02" && strings.Contains(pe.Message, errRowsGone))
}

// ErrUnavailable wraps failures to reach the database: the caller answers
// "try again later" (SMTP 451, HTTP 503), never success.
var ErrUnavailable = errors.New("store: database unavailable")

// sequenceName is the PostgreSQL sequence behind a bucket's Sequence.
func sequenceName(bucket string) string {
	return "kvseq_" + hex.EncodeToString([]byte(bucket))
}

// ensureSequence creates a bucket's sequence once per bucket per process
// (CREATE SEQUENCE IF NOT EXISTS), outside the caller's transaction
// (sequences are not transactional anyway). It never asks on the
// transaction's own connection: a failed name lookup there is cached by
// the backend and would hide the sequence from the transaction's later
// statements.
func (b *pgBackend) ensureSequence(ctx context.Context, bucket string) (string, error) {
	name := sequenceName(bucket)
	if len(name) > 63 {
		return "", fmt.Errorf("sequence for bucket %q: name too long", bucket)
	}
	if _, ok := b.seqs.Load(name); ok {
		return name, nil
	}
	// This may run while the committer holds the cluster's writer lock,
	// and the pool's connections may all be taken by readers: a pooled
	// connection if one comes at once, else one of its own. Once per
	// bucket per process.
	var exec func(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	pc, err := b.pool.Acquire(actx)
	cancel()
	if err == nil {
		defer pc.Release()
		exec = pc.Exec
	} else {
		conn, err := pgx.ConnectConfig(ctx, b.pool.Config().ConnConfig)
		if err != nil {
			return "", fmt.Errorf("create sequence for %s: %w", bucket, err)
		}
		defer conn.Close(context.Background())
		exec = conn.Exec
	}
	for range 3 {
		// Two nodes creating the same sequence at once can collide on the
		// catalog's unique index; the second attempt then finds it.
		if _, err = exec(ctx, `CREATE SEQUENCE IF NOT EXISTS `+pgx.Identifier{name}.Sanitize()); err == nil {
			b.seqs.Store(name, true)
			return name, nil
		}
	}
	return "", fmt.Errorf("create sequence for %s: %w", bucket, err)
}

// Healthy tells whether the store can be reached now (for /readyz).
func (db *DB) Healthy(ctx context.Context) error {
	if db.pg == nil {
		return nil
	}
	if err := db.pg.pool.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return nil
}

// Backend names the backend ("bbolt" or "postgres").
func (db *DB) Backend() string {
	if db.pg != nil {
		return "postgres"
	}
	return "bbolt"
}

// Shared tells whether other nodes may share this store: secrets and
// anything cached must then live in, and be checked against, the store.
func (db *DB) Shared() bool { return db.pg != nil }

// TryExclusive runs fn if no other node is running the job called name
// (a PostgreSQL advisory lock held for fn's duration); with bbolt it
// always runs fn. ran is false when another node holds the job.
//
// The lock belongs to a transaction left open on a connection of its own
// while fn runs (fn's writes go through the store as usual): its end
// releases the lock on whatever server connection ran it, so this works
// through a pooler in transaction mode as well, and a node that dies
// mid-job lets go when its connection ends. The transaction reads
// nothing: it holds back no vacuum.
func (db *DB) TryExclusive(ctx context.Context, name string, fn func() error) (ran bool, err error) {
	if db.pg == nil {
		return true, fn()
	}
	conn, err := db.pg.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	defer endConn(conn)
	var got bool
	var batch pgx.Batch
	batch.Queue(`BEGIN`)
	batch.Queue(`SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, "deskmail:"+name).QueryRow(func(r pgx.Row) error { return r.Scan(&got) })
	if err := conn.SendBatch(ctx, &batch).Close(); err != nil {
		return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	if !got {
		return false, nil
	}
	return true, fn()
}

// sqlBarrier waits for the transactions that hold one of the names
// (store.Barriers; held shared, store.SharedLocks) when it looks, and
// not for those that take them later. An exclusive request (the barrier
// used to take each name exclusively and let go) would do the first but
// not the second: PostgreSQL queues every later shared request behind a
// waiting exclusive one, so while a pipeline commit waited for one
// sender's accepts in flight, every new accept of that sender on every
// node waited too, one WAL flush or more (the convoy of a busy sender,
// docs/SCALING.md). Instead, for each name:
//
//   - a free name (no holder: the common case when the sender's accepts
//     are done) is found by a try of the lock, let go at once; a try
//     never queues;
//   - otherwise (and only then: pg_locks takes every partition of the
//     server's lock table to read) the holders are read from pg_locks (the server processes
//     holding the name shared in this database), and the barrier waits
//     for the end of each one's transaction through its mark: every
//     transaction that takes shared names first takes its connection's
//     mark, pg_advisory_xact_lock(markClass, pg_backend_pid()),
//     exclusively, so a shared request for it is granted when that
//     transaction ends (taken and let go at once, one holder at a time).
//     A holder that ended before the barrier asks lets it pass; one whose
//     connection has begun another marked transaction meanwhile is waited
//     for too (one transaction more, never a queue).
//
// A transaction that holds a name took its mark before the name, in the
// same round trip, so no holder pg_locks shows is without its mark.
const sqlBarrier = `WITH busy AS MATERIALIZED (
	SELECT h FROM unnest($1::bigint[]) AS u(h)
	WHERE CASE WHEN pg_try_advisory_lock(h) THEN NOT pg_advisory_unlock(h) ELSE true END
), holders AS MATERIALIZED (
	SELECT DISTINCT l.pid FROM pg_locks l
	WHERE EXISTS (SELECT FROM busy) AND l.locktype = 'advisory' AND l.objsubid = 1 AND l.granted AND l.mode = 'ShareLock'
		AND l.pid <> pg_backend_pid() AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		AND (l.classid::bigint << 32 | l.objid::bigint) IN (SELECT h FROM busy)
)
SELECT count(pg_advisory_unlock_shared(` + markClass + `, holders.pid)) FROM holders
	CROSS JOIN LATERAL (SELECT pg_advisory_lock_shared(` + markClass + `, holders.pid) OFFSET 0) AS w`

// markClass is the first key of the marks (pg_advisory_xact_lock's
// two-key form, which pg_locks shows apart from the one-key locks of
// lockID: objsubid 2, not 1).
const markClass = `1684368237`

// sqlMark is a transaction's mark (sqlBarrier).
const sqlMark = `pg_advisory_xact_lock(` + markClass + `, pg_backend_pid())`
