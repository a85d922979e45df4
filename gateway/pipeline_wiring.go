package gateway

import (
	"log/slog"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/pipeline"
	"github.com/deskmail/deskmail/store"
)

// resolver is the daemon's one DNS: the test's when it gives one, else a
// caching resolver asking --dns or the system's servers. The sender checks
// and the outbound MX lookups share it, and so its cache. closeDNS closes
// the sockets of the one made here (nil for the test's).
func resolver(cfg *config.Config, opts Options) (res auth.Resolver, closeDNS func() error, err error) {
	if opts.Resolver != nil {
		return opts.Resolver, nil, nil
	}
	d, err := auth.NewDNS(cfg.DNS, cfg.DNSCache, clock.Real{})
	if err != nil {
		return nil, nil, err
	}
	return d, d.Close, nil
}

// newPipeline builds the inbound pipeline, the backlog bound the
// receiver enforces and the count of accepts the pipeline yields to
// (pipeline-yield; the receiver keeps it).
func newPipeline(cfg *config.Config, db *store.DB, clk clock.Clock, step *intake.InboundStep, log *slog.Logger) (*pipeline.Pipeline, *inbound.Activity) {
	act := &inbound.Activity{Clock: clk}
	return &pipeline.Pipeline{DB: db, Log: log, Step: step.Step, Clock: clk,
		Workers: cfg.PipelineWorkers, Node: cfg.Hostname, RetryJitter: 0.2,
		Backlog: &inbound.Backlog{MaxPending: int64(cfg.MaxPending), MaxBytes: cfg.MaxPendingBytes},
		Yield:   &pipeline.Yield{Busy: act.Busy, Workers: cfg.PipelineYieldWorkers, MaxWait: cfg.PipelineYield}}, act
}
