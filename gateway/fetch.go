package gateway

import (
	"context"
	"sync/atomic"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/console"
	"github.com/deskmail/deskmail/fetch"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/inbound"
)

// startFetch starts reading the configured IMAP mailboxes (none: nothing
// runs) into recv, the same Receiver SMTP uses, and reports their state
// in /readyz and on the console's status page. The node's id names it in
// the mailboxes' leases: stable across restarts, so a restarted node
// takes its mailboxes back at once.
func (d *Daemon) startFetch(ctx context.Context, recv *inbound.Receiver, clk clock.Clock, api *httpapi.Server, info *atomic.Pointer[console.DaemonInfo]) error {
	if len(d.cfg.Fetch) == 0 {
		return nil
	}
	owner, err := nodeID(d.cfg.Data)
	if err != nil {
		return err
	}
	f := &fetch.Fetcher{DB: d.DB, Receiver: recv, Clock: clk, Log: d.log.With("component", "fetch"),
		Owner: owner, Mailboxes: d.cfg.Fetch, MaxMessageBytes: d.cfg.MaxMessageBytes}
	d.Fetcher = f
	api.ReadyDetails = func() map[string]any { return map[string]any{"fetch": f.Statuses()} }
	v := *info.Load()
	v.Mailboxes = func() []console.MailboxInfo {
		var out []console.MailboxInfo
		for _, s := range f.Statuses() {
			out = append(out, console.MailboxInfo{Name: s.Name, State: s.State, Error: s.Error,
				Failures: s.Failures, LastOK: s.LastOK, Fetched: s.Fetched, Owner: s.Owner})
		}
		return out
	}
	info.Store(&v)
	d.workers.Add(1)
	go func() { defer d.workers.Done(); f.Run(ctx) }()
	return nil
}
