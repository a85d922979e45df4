package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/store"
)

// `deskmail db migrate` and `deskmail db copy`: the PostgreSQL store's
// schema, and moving an installation between a data folder and a shared
// database.

func init() { dbSubcommands = append(dbSubcommands, newDBMigrateCmd, newDBCopyCmd) }

func newDBMigrateCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "migrate",
		Short: "Bring the shared PostgreSQL database (--store) to this deskmail's schema",
		Long: "Applies the schema migrations this deskmail carries, each in one transaction.\n" +
			"Nodes run it at start too; run it alone to upgrade before starting them.\n" +
			"It refuses a database migrated by a newer deskmail.",
		Args: cobra.NoArgs,
	}
	loader := config.Register(c.Flags(), "store", "store-direct")
	c.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return err
		}
		if !store.IsPostgres(cfg.Store) {
			return errors.New("--store: name the PostgreSQL database (postgres://...); a data folder's bbolt file needs no migration")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		// Straight to the database when a pooler is in between.
		applied, version, err := store.MigrateURL(ctx, cmp.Or(cfg.StoreDirect, cfg.Store))
		if err != nil {
			return err
		}
		fmt.Fprintf(c.OutOrStdout(), "schema version %d (%d migrations applied now)\n", version, applied)
		return nil
	}
	return c
}

func newDBCopyCmd() *cobra.Command {
	var from, to string
	c := &cobra.Command{
		Use:   "copy --from DATA_FOLDER|postgres://... --to postgres://...|DATA_FOLDER",
		Short: "Copy a whole installation between a data folder and a PostgreSQL database (all stopped)",
		Long: "Copies every record, sequence and large body from --from into --to, which must\n" +
			"be empty, then compares the counts of every kind on both sides. Stop the\n" +
			"daemon (and every node) first. Secrets kept as files in the data folder\n" +
			"(reply-token keys, marker key, webhook secret, API token) are shared through\n" +
			"the database once the first node starts on it with that data folder.",
		Args: cobra.NoArgs,
	}
	c.Flags().StringVar(&from, "from", "", "source: a data folder or a postgres:// URL")
	c.Flags().StringVar(&to, "to", "", "destination: a postgres:// URL or a data folder")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if from == "" || to == "" {
			return errors.New("--from and --to are both required")
		}
		if store.IsPostgres(from) == store.IsPostgres(to) {
			return errors.New("copy goes from a data folder to a postgres:// database or back")
		}
		src, err := openCopyEnd(from, true)
		if err != nil {
			return fmt.Errorf("--from: %w", err)
		}
		defer src.Close()
		dst, err := openCopyEnd(to, false)
		if err != nil {
			return fmt.Errorf("--to: %w", err)
		}
		defer dst.Close()
		rep, err := store.Copy(context.Background(), src, dst)
		if err != nil {
			return err
		}
		names := make([]string, 0, len(rep.Buckets))
		total := 0
		for b, n := range rep.Buckets {
			names = append(names, b)
			total += n
		}
		sort.Strings(names)
		w := c.OutOrStdout()
		for _, b := range names {
			fmt.Fprintf(w, "%-32s %d\n", b, rep.Buckets[b])
		}
		fmt.Fprintf(w, "%-32s %d\n", "(large bodies)", rep.Bodies)
		fmt.Fprintf(w, "copied %d records in %d kinds and %d large bodies; counts verified on both sides\n", total, len(names), rep.Bodies)
		return nil
	}
	return c
}

func openCopyEnd(spec string, source bool) (*store.DB, error) {
	if store.IsPostgres(spec) {
		return store.OpenPostgres(context.Background(), spec, "", store.Options{NoMigrate: source})
	}
	if source {
		return store.Open(spec, store.Options{ReadOnly: true})
	}
	return store.Open(spec, store.Options{})
}
