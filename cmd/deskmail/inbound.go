package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/pipeline"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newInboundCmd) }

// The inbound commands show and re-queue the stored emails that have not
// reached their conversations yet, through the running daemon or, when it
// is stopped, on its data folder.
func newInboundCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "inbound", Short: "Inspect and re-queue stored inbound emails not yet in their conversations"}
	var asJSON, pending, failed, attention, allFailed bool
	var limit int
	list := dataSubcommand(cmd, &asJSON, "list", "List the emails still pending (with their last error and next attempt) and those set aside as failed; --attention: those kept for operators",
		cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
			which := ""
			switch {
			case attention:
				which = inbound.ListAttention
			case pending:
				which = inbound.ListPending
			case failed:
				which = inbound.ListFailed
			}
			var resp struct {
				Emails []inbound.Record `json:"emails"`
			}
			q := url.Values{"limit": {fmt.Sprint(limit)}}
			if which != "" {
				q.Set("state", which)
			}
			err := queueCall(data, http.MethodGet, "/v1/inbound-state?"+q.Encode(), &resp, func(ctx context.Context, db *store.DB) error {
				var err error
				if attention {
					resp.Emails, err = inbound.Attention(ctx, db, limit)
				} else {
					resp.Emails, err = store.ViewValue(ctx, db, func(tx *store.Tx) ([]inbound.Record, error) { return inbound.List(tx, which, limit) })
				}
				return err
			})
			if err != nil || asJSON {
				return printJSON(w, err, resp.Emails)
			}
			printInbound(w, resp.Emails)
			return nil
		})
	list.Flags().BoolVar(&pending, "pending", false, "only the pending emails")
	list.Flags().BoolVar(&failed, "failed", false, "only the failed emails")
	list.Flags().BoolVar(&attention, "attention", false, "the emails kept for operators (ambiguous author, too complex...), newest first, with the reason")
	list.Flags().IntVar(&limit, "limit", 1000, "at most this many emails")
	list.MarkFlagsMutuallyExclusive("pending", "failed", "attention")

	retry := dataSubcommand(cmd, &asJSON, "retry [ID]", "Process an email again now: a failed one, or a pending one waiting for its next attempt (--failed: every failed one)",
		cobra.MaximumNArgs(1), func(w io.Writer, data string, args []string) error {
			if allFailed == (len(args) == 1) {
				return errors.New("give an email ID or --failed")
			}
			var resp struct {
				Requeued []string `json:"requeued"`
			}
			path := "/v1/inbound-state/retry-failed"
			if len(args) == 1 {
				path = "/v1/inbound-state/" + url.PathEscape(args[0]) + "/retry"
			}
			err := queueCall(data, http.MethodPost, path, &resp, func(ctx context.Context, db *store.DB) error {
				return db.Update(ctx, func(tx *store.Tx) error {
					if len(args) == 1 {
						resp.Requeued = []string{args[0]}
						return pipeline.Requeue(tx, args[0])
					}
					var err error
					resp.Requeued, err = pipeline.RequeueFailed(tx)
					return err
				})
			})
			if err != nil || asJSON {
				return printJSON(w, err, resp.Requeued)
			}
			for _, id := range resp.Requeued {
				fmt.Fprintf(w, "%s: pending\n", id)
			}
			if len(resp.Requeued) == 0 {
				fmt.Fprintln(w, "no failed email to re-queue")
			}
			return nil
		})
	retry.Flags().BoolVar(&allFailed, "failed", false, "re-queue every failed email")
	return cmd
}

func printInbound(w io.Writer, recs []inbound.Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tRECEIVED\tATTEMPTS\tNEXT\tFROM\tSUBJECT\tREASON")
	for _, r := range recs {
		next := "-"
		if !r.Next.IsZero() {
			next = r.Next.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Received.Local().Format(time.DateTime),
			r.Attempts, next, orDash(short(r.From, 40)), short(r.Subject, 40), orDash(short(r.Reason, 80)))
	}
	tw.Flush()
}
