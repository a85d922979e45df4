package gateway

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/deskmail/deskmail/admin"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/console"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// webConsole builds the operators' console for the HTTP listener and its
// account and why routes for the control socket. info is filled in once
// every listener is up (the status page reads it).
func (d *Daemon) webConsole(clk clock.Clock, ob *outbound, log *slog.Logger) (web, accounts http.Handler, info *atomic.Pointer[console.DaemonInfo]) {
	info = new(atomic.Pointer[console.DaemonInfo])
	info.Store(&console.DaemonInfo{Started: clk.Now(), Outbound: ob.mode, Via: ob.where})
	c := &console.Server{DB: d.DB, Clock: clk, Log: log, Queue: d.Queue, Wake: ob.worker.Wake,
		Retention: d.cfg.Retention, Daemon: func() console.DaemonInfo { return *info.Load() }}
	return c.Handler(), (&admin.Operators{DB: d.DB, Retention: d.cfg.Retention}).Handler(), info
}

// consoleListeners records the bound addresses for the status page.
func (d *Daemon) consoleListeners(info *atomic.Pointer[console.DaemonInfo]) {
	v := *info.Load()
	v.Listeners = maps.Clone(d.Addrs)
	info.Store(&v)
}

// pruneAudit drops audit records past the longer of the log's retention
// and journal.AuditRetention; t is the log's cut-off.
func pruneAudit(db *store.DB, retention time.Duration) func(context.Context, time.Time) (int, error) {
	return func(ctx context.Context, t time.Time) (int, error) {
		if retention < journal.AuditRetention {
			t = t.Add(retention - journal.AuditRetention)
		}
		return journal.PruneAudit(ctx, db, t)
	}
}
