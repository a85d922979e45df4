package gateway

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/persontoken"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// Several nodes on one PostgreSQL database: what they must share and how
// they wake each other. With bbolt (one node) none of this does anything.

// sharedSecretFiles are the data-folder files that are really cluster
// secrets: a reply token minted by node A must verify on node B, node B
// must recognise node A's marker, and the web app knows one webhook key
// and one API token.
var sharedSecretFiles = map[string]func() ([]byte, error){
	threading.KeyFile: func() ([]byte, error) {
		s, err := randomHex(threading.SecretLen)
		return append([]byte("# deskmail reply-token secrets, current first. Keep private.\n"), s...), err
	},
	intake.LoopSecretFile: func() ([]byte, error) { return randomHex(32) },
	WebhookSecretFile:     func() ([]byte, error) { return randomHex(32) },
	TokenFile:             func() ([]byte, error) { return randomHex(24) },
	// A person token minted on one node is checked on another.
	persontoken.SecretFile: func() ([]byte, error) { return randomHex(32) },
}

func randomHex(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := randRead(b); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(b) + "\n"), nil
}

// shareSecrets makes the node's secret files copies of the database's: the
// first node to start stores its files (or fresh secrets) in the database,
// every node then writes the database's copy into its data folder, where
// the existing loaders read it. Two nodes starting at once cannot end up
// with different secrets: the put-if-absent runs in a write transaction,
// and those run one at a time across nodes, so the second reads the
// first's.
func shareSecrets(ctx context.Context, db *store.DB, dir string, log *slog.Logger) error {
	if !db.Shared() {
		return nil
	}
	for name, create := range sharedSecretFiles {
		path := filepath.Join(dir, name)
		local, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("read %s: %w", path, err)
		}
		candidate := local
		if candidate == nil {
			if candidate, err = create(); err != nil {
				return err
			}
		}
		var shared []byte
		err = db.Update(ctx, func(tx *store.Tx) error {
			if v := tx.Get(store.BucketSecrets, []byte(name)); v != nil {
				shared = bytes.Clone(v)
				return nil
			}
			shared = candidate
			return tx.Put(store.BucketSecrets, []byte(name), candidate)
		})
		if err != nil {
			return fmt.Errorf("share %s: %w", name, err)
		}
		if bytes.Equal(shared, local) {
			continue
		}
		if local != nil {
			log.Warn("replacing a node-local secret with the one the other nodes share", "file", path)
		}
		if err := store.WriteFileAtomic(path, shared, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
		if name == TokenFile && local == nil {
			// As on bbolt, the first start says where the token is: the
			// web app's server needs it, and it is in no log.
			if bytes.Equal(shared, candidate) {
				log.Warn("generated an API token, shared by every node through the database", "file", path)
			} else {
				log.Warn("wrote the API token the other nodes share", "file", path)
			}
		}
	}
	return nil
}

// Bus topics.
const (
	TopicInbound = "inbound" // a message was stored: process pending mail
	TopicQueue   = "queue"   // jobs changed: look at the due index now
)

// wireBus makes this node react to the other nodes' news: a stored email
// wakes the pipeline, a queue change the worker, a notification the live
// streams. It returns a function that unsubscribes.
func wireBus(db *store.DB, pipeWake func(string), queueWake func(), hub *messaging.Hub) func() {
	cancels := []func(){
		db.Subscribe(TopicInbound, func(string) { pipeWake("") }),
		db.Subscribe(TopicQueue, func(string) { queueWake() }),
		db.Subscribe(model.TopicNotification, func(p string) {
			if n, err := model.DecodeNotificationNote(p); err == nil {
				hub.Publish([]model.Notification{n})
			}
		}),
	}
	return func() {
		for _, c := range cancels {
			c()
		}
	}
}

// announcer tells the other nodes that something is stored, without
// adding a round trip to the caller (an SMTP session waiting for its
// 250): a burst of calls becomes one note, and notes go at most one per
// announceGap. Each note is a statement of its own on the database and
// wakes every other node's pipeline for a scan of the pending emails;
// one a stored email (0.8 per email with two nodes taking 600 emails/s)
// cost more transactions than the emails' own commits, and no node needs
// them that often: this node's pipeline is woken directly, and another
// one that learns of the email announceGap later still finds it pending.
// Its goroutine (run) is the daemon's, among its workers: Shutdown stops
// it before the store closes.
type announcer struct {
	db    *store.DB
	topic string
	poke  chan struct{}
	clock clock.Clock
	gap   time.Duration
	// publish sends one note (db.Publish; tests count them).
	publish func()
}

// announceGap is the least time between two notes of one announcer.
const announceGap = 20 * time.Millisecond

func newAnnouncer(db *store.DB, topic string, clk clock.Clock) *announcer {
	a := &announcer{db: db, topic: topic, poke: make(chan struct{}, 1), clock: clk, gap: announceGap}
	a.publish = func() { db.Publish(topic, "") }
	return a
}

func (a *announcer) Poke() {
	if !a.db.Shared() {
		return
	}
	select {
	case a.poke <- struct{}{}:
	default:
	}
}

// run publishes the pokes until ctx ends; on a store that is not shared
// it returns at once (there is nobody to tell).
func (a *announcer) run(ctx context.Context) {
	if !a.db.Shared() {
		return
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-a.poke:
			a.publish()
		}
		// Pokes meanwhile wait in the channel (one stands for all).
		select {
		case <-ctx.Done():
			return
		case <-a.clock.After(a.gap):
		}
	}
}

// healthWatch keeps ok current with the store's reachability, probed at
// every tick (each probe given timeout), so /readyz turns 503 while the
// database is away and the load balancer sends the traffic to the other
// nodes. It ends with ctx; a probe cut off by that end is a shutdown, not
// an outage: it is neither logged nor recorded in ok.
func healthWatch(ctx context.Context, probe func(context.Context) error, ok *atomic.Bool, tick <-chan time.Time, timeout time.Duration, log *slog.Logger) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		}
		c, cancel := context.WithTimeout(ctx, timeout)
		err := probe(c)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if was := ok.Swap(err == nil); was != (err == nil) {
			if err != nil {
				log.Error("database unreachable: not ready", "err", err)
			} else {
				log.Info("database reachable again: ready")
			}
		}
	}
}

// NodeIDFile names this node for the leases it takes on a shared store;
// it stays in the node's own data folder, so a restarted node knows its
// own leases.
const NodeIDFile = "node-id"

// nodeID reads or creates the node's name.
func nodeID(dir string) (string, error) {
	path := filepath.Join(dir, NodeIDFile)
	if b, err := os.ReadFile(path); err == nil {
		if id := strings.TrimSpace(string(b)); id != "" {
			return id, nil
		}
	}
	id, err := randomHex(8)
	if err != nil {
		return "", err
	}
	if err := store.WriteFileAtomic(path, id, 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return strings.TrimSpace(string(id)), nil
}
