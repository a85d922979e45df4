package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newQueueCmd) }

// The queue commands ask the running daemon over the control socket, or
// open the data folder themselves when it is stopped (as `log` does).
func newQueueCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "queue", Short: "Inspect and act on the outgoing queue: emails and webhook jobs"}
	var asJSON bool
	var limit int
	sub := func(use, short string, args cobra.PositionalArgs, run func(w io.Writer, data string, args []string) error) {
		c := dataSubcommand(cmd, &asJSON, use, short, args, run)
		if use == "list" {
			c.Flags().IntVar(&limit, "limit", 1000, "at most this many jobs")
		}
	}
	sub("list", "List the jobs waiting (emails and webhooks): held, queued for a retry, being sent", cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
		var resp struct {
			Jobs []queue.Job `json:"jobs"`
		}
		err := queueCall(data, http.MethodGet, "/v1/queue?limit="+fmt.Sprint(limit), &resp, func(ctx context.Context, db *store.DB) error {
			var err error
			resp.Jobs, err = store.ViewValue(ctx, db, func(tx *store.Tx) ([]queue.Job, error) { return queue.List(tx, limit) })
			return err
		})
		if err != nil || asJSON {
			return printJSON(w, err, resp.Jobs)
		}
		printJobs(w, resp.Jobs)
		return nil
	})
	sub("show ID", "Show one job and its history (emails; a webhook job has no log history)", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		var v queue.JobView
		err := queueCall(data, http.MethodGet, "/v1/queue/"+url.PathEscape(args[0]), &v, func(ctx context.Context, db *store.DB) error {
			var err error
			v, err = queue.Show(ctx, db, args[0], time.Now().Add(-30*24*time.Hour))
			return err
		})
		if err != nil || asJSON {
			return printJSON(w, err, v)
		}
		printJobs(w, []queue.Job{v.Job})
		if v.Job.Kind != queue.KindEmail {
			fmt.Fprintf(w, "\nkind: %s\nmessages: %s\nreason: %s\n", v.Job.Kind, strings.Join(v.Job.Messages, ", "), v.Job.Reason)
			return nil
		}
		fmt.Fprintf(w, "\nmessages: %s\nto: %s\nmessage-id: %s\nreason: %s\n\nhistory:\n",
			strings.Join(v.Job.Messages, ", "), v.Job.To, v.Job.MessageID, v.Job.Reason)
		for _, e := range v.History {
			next := ""
			if e.NextAttempt != nil {
				next = " (next attempt " + e.NextAttempt.Local().Format(time.DateTime) + ")"
			}
			fmt.Fprintf(w, "  %s  %-10s %s%s\n", e.Time.Local().Format(time.DateTime), e.Status, e.Reason, next)
		}
		return nil
	})
	for _, action := range []struct{ name, short string }{
		{"retry", "Send a job now (held or queued), or again (failed)"},
		{"cancel", "Cancel a job that is held or queued"},
	} {
		sub(action.name+" ID", action.short, cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
			var j queue.Job
			err := queueCall(data, http.MethodPost, "/v1/queue/"+url.PathEscape(args[0])+"/"+action.name, &j, func(ctx context.Context, db *store.DB) error {
				q := &queue.Queue{Clock: clock.Real{}}
				return db.Update(ctx, func(tx *store.Tx) error {
					var err error
					if action.name == "retry" {
						j, err = q.Retry(tx, args[0])
					} else {
						j, err = q.Cancel(tx, args[0])
					}
					return err
				})
			})
			if err != nil || asJSON {
				return printJSON(w, err, j)
			}
			fmt.Fprintf(w, "%s: %s\n", j.ID, j.State)
			return nil
		})
	}
	sub("suppressed", "List the addresses with hard bounces", cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
		var resp struct {
			Addresses []queue.Suppression `json:"addresses"`
		}
		err := queueCall(data, http.MethodGet, "/v1/queue-suppressed", &resp, func(ctx context.Context, db *store.DB) error {
			var err error
			resp.Addresses, err = store.ViewValue(ctx, db, queue.Suppressions)
			return err
		})
		if err != nil || asJSON {
			return printJSON(w, err, resp.Addresses)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tBOUNCES\tSUPPRESSED\tLAST")
		for _, s := range resp.Addresses {
			fmt.Fprintf(tw, "%s\t%d\t%v\t%s\n", s.Address, s.Bounces, s.Suppressed, s.Last.Local().Format(time.DateTime))
		}
		return tw.Flush()
	})
	sub("unsuppress ADDRESS", "Forget an address's hard bounces, so it is emailed again", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		err := queueCall(data, http.MethodDelete, "/v1/queue-suppressed/"+url.PathEscape(args[0]), nil, func(ctx context.Context, db *store.DB) error {
			return db.Update(ctx, func(tx *store.Tx) error {
				found, err := queue.ClearSuppression(tx, args[0])
				if err == nil && !found {
					err = fmt.Errorf("%s has no bounces recorded", args[0])
				}
				return err
			})
		})
		if err == nil {
			fmt.Fprintf(w, "%s cleared\n", args[0])
		}
		return err
	})
	return cmd
}

// queueCall asks the daemon, or runs offline on the stopped daemon's data
// folder (read-only for GET); offline runs on the command's context.
func queueCall(data, method, path string, out any, offline func(ctx context.Context, db *store.DB) error) error {
	resp, err := controlDo(data, 30*time.Second, method, path, nil)
	if errors.Is(err, errNoDaemon) {
		db, err := openStore(data, store.Options{ReadOnly: method == http.MethodGet})
		if err != nil {
			return err
		}
		defer db.Close()
		if err := offline(context.Background(), db); err != nil {
			return err
		}
		if method != http.MethodGet {
			wakeNodes(db)
		}
		return nil
	}
	if err != nil {
		return err
	}
	return readAnswer(resp, out)
}

func printJSON(w io.Writer, err error, v any) error {
	if err != nil {
		return err
	}
	enc := json.NewEncoder(jsonOut(w))
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printJobs(w io.Writer, jobs []queue.Job) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATE\tDUE\tATTEMPTS\tPERSON\tCONVERSATION\tMESSAGES\tSUBJECT")
	for _, j := range jobs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%d\t%s\n", j.ID, j.Kind, j.State, j.Due.Local().Format(time.DateTime),
			j.Attempts, orDash(j.Person), j.Conversation, len(j.Messages), short(j.Subject, 50))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return cell(s)
}
