package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newDBCmd) }

func newDBCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "db", Short: "Maintenance of the store (data folder or shared database)"}
	compact := &cobra.Command{
		Use:   "compact",
		Short: "Rewrite the database without its free pages (daemon stopped)",
		Args:  cobra.NoArgs,
	}
	loader := config.Register(compact.Flags(), "data")
	compact.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return err
		}
		before, after, err := store.Compact(cfg.Data)
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "compacted %s: %d bytes -> %d bytes\n", cfg.Data, before, after)
		return nil
	}
	cmd.AddCommand(compact)
	for _, sub := range dbSubcommands {
		cmd.AddCommand(sub())
	}
	return cmd
}

// dbSubcommands are the other files' db subcommands.
var dbSubcommands []func() *cobra.Command
