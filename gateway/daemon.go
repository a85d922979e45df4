// Package gateway ties deskmail's packages into the daemon and its
// pipelines: inbound (mta -> inbound store -> pipeline), the HTTP API and
// the background workers. `deskmail serve` is a thin wrapper over Start.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/deskmail/deskmail/admin"
	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/console"
	"github.com/deskmail/deskmail/fetch"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/httplimit"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/mta"
	"github.com/deskmail/deskmail/persontoken"
	"github.com/deskmail/deskmail/pipeline"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
	"github.com/deskmail/deskmail/version"
	"github.com/deskmail/deskmail/webhook"
)

// SocketName is the control socket in the data folder: the HTTP API,
// without token, for the CLI on the same machine.
const SocketName = "deskmail.sock"

// TokenFile holds the generated API token when none is configured.
const TokenFile = "api-token"

// Daemon is a running deskmail.
type Daemon struct {
	cfg   *config.Config
	log   *slog.Logger
	DB    *store.DB
	mta   *mta.Server
	https []*http.Server
	ready atomic.Bool
	// storeOK follows the database's reachability (always true on bbolt).
	storeOK     atomic.Bool
	unsubscribe func()
	closeDNS    func() error // the resolver's sockets

	cancel  context.CancelFunc
	workers sync.WaitGroup
	serving sync.WaitGroup
	errs    chan error

	// Addrs are the bound addresses by protocol ("smtp", "lmtp", "http").
	Addrs map[string]string

	// Queue is the hold queue; Messaging posts messages and seen-acks
	// with the queue's hooks in their commits.
	Queue     *queue.Queue
	Messaging *messaging.Service
	outbound  *outbound
	// Fetcher reads the IMAP mailboxes (nil: none configured).
	Fetcher *fetch.Fetcher
	// backlog is the pipeline's count of pending emails (the pipeline
	// benchmark waits on it: a scan of the store would cost more).
	backlog *inbound.Backlog
}

// Options are what a test may swap in; the zero value is production.
type Options struct {
	// Resolver answers the DNS of the sender checks and the MX lookups
	// (default: a caching resolver asking --dns, or the system's servers).
	Resolver auth.Resolver
	// Clock drives the pipeline and workers (default clock.Real).
	Clock clock.Clock
}

// Start opens the data folder and starts every listener and worker.
func Start(cfg *config.Config, log *slog.Logger) (*Daemon, error) {
	return StartWith(cfg, log, Options{})
}

// StartWith is Start with test seams.
func StartWith(cfg *config.Config, log *slog.Logger, opts Options) (_ *Daemon, err error) {
	db, err := store.OpenStore(cfg.Store, cfg.Data, store.Options{Observe: observeCommit, Direct: cfg.StoreDirect, Listen: true,
		LogSize: cfg.StoreLogSize, CheckpointInterval: cfg.StoreCheckpoint})
	if err != nil {
		return nil, err
	}
	if err := shareSecrets(context.Background(), db, cfg.Data, log); err != nil {
		db.Close()
		return nil, err
	}
	d := &Daemon{cfg: cfg, log: log, DB: db, errs: make(chan error, 8), Addrs: map[string]string{}}
	d.storeOK.Store(true)
	defer func() {
		if err != nil {
			d.closeAll()
		}
	}()
	registerDBSize(db)
	if n, err := inbound.SweepSpool(context.Background(), db); err != nil {
		log.Warn("sweep spool", "err", err)
	} else if n > 0 {
		log.Info("removed unfinished spool files", "count", n)
	}
	token, err := d.apiToken()
	if err != nil {
		return nil, err
	}
	var clk clock.Clock = clock.Real{}
	if opts.Clock != nil {
		clk = opts.Clock
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel

	secret, err := intake.LoadOrCreateSecret(filepath.Join(cfg.Data, intake.LoopSecretFile))
	if err != nil {
		return nil, err
	}
	dns, closeDNS, err := resolver(cfg, opts)
	d.closeDNS = closeDNS
	if err != nil {
		return nil, err
	}
	thread, hook, err := d.threader(dns, clk)
	if err != nil {
		return nil, err
	}
	thread.ConversationCap = loopguard.ConversationCap{Cap: loopguard.Cap{Max: cfg.ConversationCap, Window: loopguard.DefaultConversationWindow}}
	// The keyring tells the loop guard which Message-IDs are ours: another
	// system answering our email is a hint of a ping-pong.
	classify := &intake.Classifier{DB: db, Clock: clk, Guard: loopguard.New(loopguard.Options{Secrets: [][]byte{secret},
		OwnMessageID: thread.Keyring.IsOwnMessageID})}
	// One hub: notifications from email and from the API reach the same
	// live streams.
	hub := messaging.NewHub()
	thread.Hub = hub
	ob, err := newOutbound(cfg, db, clk, classify.Guard, thread.Keyring, hook, dns, log.With("component", "queue"))
	if err != nil {
		return nil, err
	}
	d.outbound, d.Queue = ob, ob.worker.Queue
	if db.Shared() {
		if d.Queue.Owner, err = nodeID(cfg.Data); err != nil {
			return nil, err
		}
	}
	// Everything is wired before any goroutine starts: the pipeline may
	// begin at once on a backlog.
	msgs := &messaging.Service{DB: db, Clock: clk, Hub: hub, OnNotify: d.Queue.Hold, OnSeen: d.Queue.SeenAck, SeenPlan: d.Queue.SeenPlan}
	d.Messaging = msgs
	thread.Messaging = msgs
	if hook != nil {
		// A webhook job is due the moment its message is committed.
		thread.Posted = ob.worker.Wake
	}
	if n, err := webhook.MigrateOutbox(ctx, db, clk.Now()); err != nil {
		return nil, fmt.Errorf("move the webhook outbox to the queue: %w", err)
	} else if n > 0 {
		log.Info("moved waiting webhook events to the queue", "count", n)
	}
	step := &intake.InboundStep{DB: db, Classify: classify, Thread: thread, Queue: d.Queue, Log: log.With("component", "pipeline"),
		Complaints: &intake.Complaints{Auth: thread.Auth, Keyring: thread.Keyring, FeedbackLoops: cfg.FeedbackLoops}}
	if cfg.RoleForward != "" {
		step.RoleForward = &intake.RoleForward{To: cfg.RoleForward, Mailer: ob.mailer}
	}
	pipe, activity := newPipeline(cfg, db, clk, step, log.With("component", "pipeline"))
	d.backlog = pipe.Backlog
	if db.Shared() {
		// Two nodes may share a hostname (or be given none): the node's
		// own id tells its claims from the other nodes', so a restart
		// takes back only its own at once.
		pipe.Node = d.Queue.Owner
		// Each node's pipeline takes the emails it accepted; another
		// node's after DefaultAffinity (pipeline/affinity.go).
		pipe.Affinity = pipeline.DefaultAffinity
	}
	// Other nodes wake this one for their stored mail, queue changes and
	// notifications (PostgreSQL; nothing with bbolt).
	d.unsubscribe = wireBus(db, pipe.Wake, ob.worker.Wake, hub)
	announce := newAnnouncer(db, TopicInbound, clk)
	stored := func(id string) {
		pipe.Accepted(id)
		if pipe.Announce() {
			announce.Poke()
		}
	}
	recv := &inbound.Receiver{DB: db, Clock: clk, Hostname: cfg.Hostname, Stored: stored, Backlog: pipe.Backlog, Activity: activity,
		Limits: inbound.Limits{MaxMessageBytes: cfg.MaxMessageBytes, MaxHeaderBytes: int(cfg.MaxHeaderBytes)}}
	pruner := &journal.Pruner{DB: db, Clock: clk, Retention: cfg.Retention, Interval: time.Minute,
		Log: log.With("component", "prune"), Also: []func(context.Context, time.Time) (int, error){
			func(ctx context.Context, t time.Time) (int, error) { return inbound.PruneDedupe(ctx, db, t) },
			func(ctx context.Context, t time.Time) (int, error) { return queue.Prune(ctx, db, t) },
			func(ctx context.Context, t time.Time) (int, error) { return center.PruneEvents(ctx, db, t) },
			pruneAudit(db, cfg.Retention),
			(&capPruner{db: db}).prune,
		}}
	d.workers.Add(3)
	go func() { defer d.workers.Done(); announce.run(ctx) }()
	go func() { defer d.workers.Done(); pipe.Run(ctx) }()
	go func() { defer d.workers.Done(); pruner.Run(ctx) }()
	if db.Shared() { // bbolt is reachable while the process runs
		const every = 2 * time.Second
		d.workers.Add(1)
		go func() {
			defer d.workers.Done()
			t := time.NewTicker(every)
			defer t.Stop()
			healthWatch(ctx, db.Healthy, &d.storeOK, t.C, every, log)
		}()
	}
	d.workers.Add(1)
	go func() { defer d.workers.Done(); ob.worker.Run(ctx) }()

	// The live streams end when HTTP shutdown begins (RegisterOnShutdown
	// below): they never go idle, so Shutdown would wait for them in vain.
	streams, stopStreams := context.WithCancel(ctx)
	defer func() {
		if err != nil {
			stopStreams()
		}
	}()
	ptSecret, err := intake.LoadOrCreateSecret(filepath.Join(cfg.Data, persontoken.SecretFile))
	if err != nil {
		return nil, fmt.Errorf("person token secret: %w", err)
	}
	known := recipients(cfg, thread) // what SMTP, LMTP and POST /v1/inbound accept
	api := &httpapi.Server{DB: db, Receiver: recv, Domains: inbound.NewDomains(cfg.Domains), Recipients: known, Token: token,
		PersonTokens: &persontoken.Keyring{Secret: ptSecret, Clock: clk}, CORSOrigins: cfg.CORSOrigins,
		Clock: clk, Log: log.With("component", "http"), MaxMessageBytes: cfg.MaxMessageBytes, Ready: d.isReady,
		Messaging: msgs, Streams: streams, DeliveryStatus: queue.DeliveryStatus(db),
		Center: &center.Service{DB: db, Clock: clk, Mailer: ob.worker.Composer.(*queue.Mailer), Messaging: msgs, Wake: ob.worker.Wake}}
	sock := filepath.Join(cfg.Data, SocketName)
	_ = os.Remove(sock) // we hold the database lock, so no live daemon owns it
	// The socket is the API without a token: it must never exist, even for
	// a moment, with a mode that lets other users connect.
	oldMask := syscall.Umask(0o077)
	sl, err := net.Listen("unix", sock)
	syscall.Umask(oldMask)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		sl.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	web, consoleAdmin, consoleInfo := d.webConsole(clk, ob, log.With("component", "console"))
	if err := d.startFetch(ctx, recv, clk, api, consoleInfo); err != nil {
		return nil, err
	}
	control := http.NewServeMux()
	control.Handle("/v1/operators", consoleAdmin)
	control.Handle("/v1/operators/", consoleAdmin)
	control.Handle("/v1/why/", consoleAdmin)
	control.Handle("/v1/queue", ob.admin)
	control.Handle("/v1/queue/", ob.admin)
	control.Handle("/v1/queue-suppressed", ob.admin)
	control.Handle("/v1/queue-suppressed/", ob.admin)
	inboundAdmin := (&admin.Inbound{DB: db, Wake: pipe.Wake}).Handler()
	control.Handle("/v1/inbound-state", inboundAdmin)
	control.Handle("/v1/inbound-state/", inboundAdmin)
	conversationsAdmin := (&admin.Conversations{DB: db}).Handler()
	control.Handle("/v1/conversation-list", conversationsAdmin)
	control.Handle("/v1/conversation-detail/", conversationsAdmin)
	control.Handle("/", api.Handler(true))
	// The control socket is its owner's (0600): the CLI's long commands
	// get no write deadline there.
	d.serveHTTP(sl, &http.Server{Handler: control, ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}, "control")
	if cfg.HTTPAddr != "" {
		hl, err := net.Listen("tcp", cfg.HTTPAddr)
		if err != nil {
			return nil, fmt.Errorf("http-addr: %w", err)
		}
		lim := httpLimits(cfg)
		d.serveHTTP(httplimit.Listener(hl, lim), httplimit.Server(withDemo(cfg.Demo, console.Beside(api.Handler(false), web), log), lim), "http")
	}
	for _, srv := range d.https {
		srv.RegisterOnShutdown(stopStreams)
	}

	tlsConf, err := tlsConfig(cfg)
	if err != nil {
		return nil, err
	}
	d.mta = mta.New(mta.Config{
		Hostname: cfg.Hostname, Domains: cfg.Domains, MaxMessageBytes: cfg.MaxMessageBytes,
		MaxRecipients: cfg.MaxRecipients, MaxLineBytes: cfg.MaxLineBytes,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, SessionTimeout: cfg.SessionTimeout,
		MaxConns: cfg.MaxConns, MaxConnsPerIP: cfg.MaxConnsPerIP, TLS: tlsConf,
		Recipients: known,
	}, recv, log.With("component", "mta"))
	if cfg.SMTPAddr != "" {
		l, err := mta.Listen("tcp", cfg.SMTPAddr)
		if err != nil {
			return nil, fmt.Errorf("smtp-addr: %w", err)
		}
		d.serveMTA(l, "smtp", d.mta.ServeSMTP)
	}
	if cfg.LMTPAddr != "" {
		network, addr := "tcp", cfg.LMTPAddr
		if p, ok := strings.CutPrefix(addr, "unix:"); ok {
			network, addr = "unix", p
			_ = os.Remove(addr)
		}
		l, err := mta.Listen(network, addr)
		if err != nil {
			return nil, fmt.Errorf("lmtp-addr: %w", err)
		}
		d.serveMTA(l, "lmtp", d.mta.ServeLMTP)
	}
	d.consoleListeners(consoleInfo)
	ob.announce(log)
	// Ready before the line says so: a probe that follows the line (the
	// e2e tests, an operator) must find /readyz 200.
	d.ready.Store(true)
	log.Info("deskmail ready", "data", cfg.Data, "store", db.Backend(), "domains", strings.Join(cfg.Domains, ","), "version", version.Get().Short())
	return d, nil
}

// isReady is /readyz: started, not stopping, and the store reachable.
func (d *Daemon) isReady() bool { return d.ready.Load() && d.storeOK.Load() }

func tlsConfig(cfg *config.Config) (*tls.Config, error) {
	switch {
	case cfg.TLSCert != "":
		c, err := mta.TLSConfig(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("tls-cert: %w", err)
		}
		return c, nil
	case cfg.TLSSelfSigned:
		return mta.SelfSignedTLSConfig(cfg.Hostname)
	}
	return nil, nil
}

func (d *Daemon) serveMTA(l net.Listener, proto string, serve func(net.Listener) error) {
	d.Addrs[proto] = l.Addr().String()
	d.log.Info("listening", "proto", proto, "addr", l.Addr().String())
	d.serving.Add(1)
	go func() {
		defer d.serving.Done()
		if err := serve(l); err != nil {
			d.errs <- fmt.Errorf("%s: %w", proto, err)
		}
	}()
}

func (d *Daemon) serveHTTP(l net.Listener, srv *http.Server, name string) {
	d.https = append(d.https, srv)
	d.Addrs[name] = l.Addr().String()
	d.log.Info("listening", "proto", name, "addr", l.Addr().String())
	d.serving.Add(1)
	go func() {
		defer d.serving.Done()
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.errs <- fmt.Errorf("%s: %w", name, err)
		}
	}()
}

// Errors delivers a listener that stopped on its own.
func (d *Daemon) Errors() <-chan error { return d.errs }

// Shutdown stops in order: listeners and sessions (those in a transaction
// get until ctx ends), the HTTP API, the workers, the store.
func (d *Daemon) Shutdown(ctx context.Context) error {
	d.ready.Store(false)
	var first error
	if d.mta != nil {
		if err := d.mta.Shutdown(ctx); err != nil {
			first = fmt.Errorf("smtp sessions cut off at shutdown: %w", err)
		}
	}
	for _, s := range d.https {
		hctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = s.Shutdown(hctx)
		cancel()
	}
	d.serving.Wait()
	d.closeAll()
	return first
}

func (d *Daemon) closeAll() {
	for _, s := range d.https {
		_ = s.Close()
	}
	if d.cancel != nil {
		d.cancel()
	}
	d.workers.Wait()
	if d.unsubscribe != nil {
		d.unsubscribe()
	}
	if d.outbound != nil {
		d.outbound.close()
	}
	if d.closeDNS != nil {
		_ = d.closeDNS()
	}
	_ = os.Remove(filepath.Join(d.cfg.Data, SocketName))
	if err := d.DB.Close(); err != nil {
		d.log.Error("close store", "err", err)
	}
}

var randRead = rand.Read

// apiToken returns the configured token, or the one generated into the
// data folder on first start.
func (d *Daemon) apiToken() (string, error) {
	if d.cfg.APIToken != "" {
		return d.cfg.APIToken, nil
	}
	path := filepath.Join(d.cfg.Data, TokenFile)
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	var r [24]byte
	if _, err := randRead(r[:]); err != nil {
		return "", err
	}
	t := hex.EncodeToString(r[:])
	if err := store.WriteFileAtomic(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write api token: %w", err)
	}
	d.log.Warn("generated an API token", "file", path)
	return t, nil
}

// outbound is the hold queue's worker, its transport and its admin API.
type outbound struct {
	worker *queue.Worker
	admin  http.Handler
	close  func()
	mode   string
	where  string
	dkim   *mta.DKIM // nil: no signing
	mailer *queue.Mailer
}

// newOutbound builds the queue worker. keyring is the threading step's,
// so replies to our emails verify with the keys that minted them; hook,
// when the webhook is on, delivers the webhook jobs.
func newOutbound(cfg *config.Config, db *store.DB, clk clock.Clock, guard *loopguard.Guard, keyring *threading.Keyring, hook *webhook.Sender, dns mta.Resolver, log *slog.Logger) (*outbound, error) {
	recipientCap := loopguard.RecipientCap{Cap: loopguard.Cap{Max: cfg.RecipientCap, Window: loopguard.DefaultRecipientWindow}}
	q := &queue.Queue{Clock: clk, HoldFor: cfg.Hold, MaxAge: cfg.MaxAge, SuppressAfter: cfg.SuppressAfter,
		TransientSuppressAfter: cfg.TransientSuppressAfter, TransientWindow: cfg.TransientWindow, RecipientCap: recipientCap,
		Backoff:     queue.Backoff{Base: cfg.RetryBase, Max: queue.DefaultBackoff.Max, Jitter: queue.DefaultBackoff.Jitter},
		KindBackoff: map[queue.Kind]queue.Backoff{queue.KindWebhook: webhook.DefaultBackoff}}
	mailer := &queue.Mailer{Keyring: keyring, Domain: cfg.OutboundDomain, ReplyDomain: cfg.ReplyDomain,
		From:   mail.Address{Name: cfg.MailFromName, Address: cfg.MailFrom},
		Marker: guard.Marker, MarkerHeader: loopguard.MarkerHeader, Intro: center.BuiltinText, RecipientCap: recipientCap}
	ob := &outbound{mode: cfg.Outbound, close: func() {}, mailer: mailer}
	var tr queue.Transport
	switch cfg.Outbound {
	case "relay":
		r := &mta.Relay{Addr: cfg.Relay, Hostname: cfg.Hostname, Username: cfg.RelayUsername,
			Password: cfg.RelayPassword, Insecure: cfg.RelayInsecure}
		tr, ob.close, ob.where = r, r.Close, cfg.Relay
	case "mx":
		tr, ob.where = &mta.MX{Hostname: cfg.Hostname, Resolver: dns, AllowPrivate: cfg.OutboundAllowPrivate}, "MX lookup"
	default:
		dir := filepath.Join(cfg.Data, mta.CaptureDir)
		tr, ob.where = &mta.Capture{Dir: dir}, dir
	}
	if len(cfg.DKIMKeys) > 0 {
		d := &mta.DKIM{Next: tr, Domain: cfg.OutboundDomain}
		for i, path := range cfg.DKIMKeys {
			key, err := mta.LoadDKIMKey(path)
			if err != nil {
				return nil, err
			}
			d.Keys = append(d.Keys, mta.DKIMKey{Selector: cfg.DKIMSelectors[i], Signer: key})
		}
		tr, ob.dkim = d, d
	}
	ob.worker = &queue.Worker{DB: db, Queue: q, Composer: mailer, Transport: tr, Clock: clk, Log: log,
		Concurrency: cfg.QueueConcurrency, PerDestination: cfg.DestConcurrency}
	if hook != nil {
		ob.worker.Senders = map[queue.Kind]queue.Sender{queue.KindWebhook: hook}
	}
	ob.admin = (&admin.Queue{DB: db, Queue: q, Wake: ob.worker.Wake, Retention: cfg.Retention}).Handler()
	return ob, nil
}

// announce says where email goes; loudly when it goes nowhere.
func (o *outbound) announce(log *slog.Logger) {
	o.announceDKIM(log)
	if o.mode == "capture" {
		log.Warn("OUTBOUND EMAIL IS CAPTURED, NOT SENT: every email is written to a file; set --relay host:port or --outbound mx to deliver", "folder", o.where)
		return
	}
	log.Info("outbound email", "mode", o.mode, "via", o.where)
}

// announceDKIM says which selectors sign outgoing email, if any.
func (o *outbound) announceDKIM(log *slog.Logger) {
	if o.dkim == nil {
		log.Info("outbound email is not DKIM-signed (no dkim-key)")
		return
	}
	var sel []string
	for _, k := range o.dkim.Keys {
		sel = append(sel, k.Selector+" ("+k.Algorithm()+")")
	}
	log.Info("DKIM signing outbound email", "domain", o.dkim.Domain, "selectors", strings.Join(sel, ", "))
}
