package store

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// The bus carries wake-ups between nodes: "a new email is stored", "a job
// is due", "a notification was created". On PostgreSQL it is LISTEN/NOTIFY
// on one channel; a note is sent by the transaction that made the news, so
// it arrives only if that transaction committed. With bbolt there is one
// node and nothing to carry.

// note is one message on the bus.
type note struct{ topic, payload string }

// Subscribe calls fn for every note on topic published by another node,
// until the returned cancel is called. fn runs on the bus's goroutine and
// must return quickly (a non-blocking send to a wake channel). After the
// bus reconnects (the database was unreachable) every subscriber is called
// once with an empty payload: notes may have been missed, look again.
func (db *DB) Subscribe(topic string, fn func(payload string)) (cancel func()) {
	if db.pg == nil {
		return func() {}
	}
	return db.pg.bus.subscribe(topic, fn)
}

// Publish sends a note to the other nodes at once, outside any
// transaction (for news that is already committed).
func (db *DB) Publish(topic, payload string) {
	if db.pg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = db.pg.pool.Exec(ctx, sqlNotify, db.pg.node+"\t"+topic+"\t"+payload)
}

type subscriber struct {
	topic string
	fn    func(string)
}

type bus struct {
	be     *pgBackend
	once   sync.Once // the listener starts with the first subscriber
	ctx    context.Context
	mu     sync.Mutex
	subs   map[int]subscriber
	next   int
	cancel context.CancelFunc
	done   chan struct{}
}

func newBus(be *pgBackend) *bus {
	ctx, cancel := context.WithCancel(context.Background())
	return &bus{be: be, ctx: ctx, subs: map[int]subscriber{}, cancel: cancel, done: make(chan struct{})}
}

func (b *bus) subscribe(topic string, fn func(string)) func() {
	b.once.Do(func() { go b.run(b.ctx) })
	b.mu.Lock()
	defer b.mu.Unlock()
	id := b.next
	b.next++
	b.subs[id] = subscriber{topic: topic, fn: fn}
	return func() {
		b.mu.Lock()
		delete(b.subs, id)
		b.mu.Unlock()
	}
}

func (b *bus) close() {
	b.cancel()
	b.once.Do(func() { close(b.done) }) // never started
	<-b.done
}

func (b *bus) deliver(topic, payload string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, s := range b.subs {
		if topic == "" || s.topic == topic {
			s.fn(payload)
		}
	}
}

// run keeps one dedicated connection listening, reconnecting with a
// growing pause (capped at 5 s) while the database is away.
func (b *bus) run(ctx context.Context) {
	defer close(b.done)
	pause := 100 * time.Millisecond
	first := true
	for ctx.Err() == nil {
		err := b.listen(ctx, func() {
			pause = 100 * time.Millisecond
			if !first {
				b.deliver("", "")
			}
			first = false
		})
		if ctx.Err() != nil || err == nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(pause*2, 5*time.Second)
	}
}

func (b *bus) listen(ctx context.Context, connected func()) error {
	cctx, cancel := context.WithTimeout(ctx, connectTimeout)
	conn, err := pgx.Connect(cctx, b.be.url)
	cancel()
	if err != nil {
		return err
	}
	defer func() {
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(c)
	}()
	if _, err := conn.Exec(ctx, `LISTEN deskmail`); err != nil {
		return err
	}
	connected()
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		node, rest, _ := strings.Cut(n.Payload, "\t")
		if node == b.be.node {
			continue
		}
		topic, payload, _ := strings.Cut(rest, "\t")
		b.deliver(topic, payload)
	}
}
