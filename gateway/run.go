package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/sdnotify"
)

// Run is `deskmail serve`: it starts the daemon, tells systemd it is
// ready once the listeners are up, keeps the watchdog fed from this main
// loop, and shuts down in order when ctx ends (SIGTERM) or a listener
// fails, telling systemd it is stopping first. A listener's failure is
// returned, so the unit's Restart= applies.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger, opts Options) error {
	d, err := StartWith(cfg, log, opts)
	if err != nil {
		return err
	}
	clk := opts.Clock
	if clk == nil {
		clk = clock.Real{}
	}
	sd := sdnotify.FromEnv()
	// The first keep-alive is armed before READY=1: from READY on,
	// systemd counts WatchdogSec.
	every, watchdog := sdnotify.WatchdogInterval()
	var tick <-chan time.Time
	if watchdog && sd.Enabled() {
		tick = clk.After(every)
	}
	if err := sd.Notify(sdnotify.Ready, sdnotify.Status("ready: "+d.listening())); err != nil {
		log.Warn("tell systemd the daemon is ready", "err", err)
	}
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			log.Info("shutting down")
			break loop
		case runErr = <-d.Errors():
			log.Error("listener failed, shutting down", "err", runErr)
			break loop
		case <-tick:
			// Fed from this loop, so a daemon whose main loop is stuck
			// is restarted by systemd.
			if err := sd.Notify(sdnotify.Watchdog); err != nil {
				log.Warn("watchdog keep-alive", "err", err)
			}
			tick = clk.After(every)
		}
	}
	if err := sd.Notify(sdnotify.Stopping, sdnotify.Status("stopping")); err != nil {
		log.Warn("tell systemd the daemon is stopping", "err", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := d.Shutdown(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("stopped")
	return runErr
}

// listening lists the bound addresses for systemd's STATUS line.
func (d *Daemon) listening() string {
	var parts []string
	for proto, addr := range d.Addrs {
		parts = append(parts, fmt.Sprintf("%s %s", proto, addr))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
