package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/gateway"
)

func init() { subcommands = append(subcommands, newServeCmd) }

func newServeCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the daemon: SMTP/LMTP inbound, HTTP API, workers",
		Args:  cobra.NoArgs,
	}
	loader := config.Register(cmd.Flags())
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return err
		}
		log := newLogger(cfg)
		tuneGC(cfg)
		// Catch signals before starting: a SIGTERM that arrives while the
		// listeners come up must still shut down cleanly.
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		return gateway.Run(ctx, cfg, log, gateway.Options{})
	}
	return cmd
}

func newLogger(cfg *config.Config) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}
