package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/intake"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newConversationsCmd) }

// The conversations commands read conversations from the terminal, through
// the running daemon or, when it is stopped, on its data folder. Their
// plain output goes through plainOut (dataSubcommand), so what came by
// email cannot send escape sequences to the terminal.
func newConversationsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "conversations", Short: "Read conversations and their messages from the terminal"}
	var asJSON bool
	var limit int
	list := dataSubcommand(cmd, &asJSON, "list", "List the newest conversations: kind, creation time, messages, subject",
		cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
			var resp struct {
				Conversations []intake.ConversationSummary `json:"conversations"`
			}
			err := queueCall(data, http.MethodGet, fmt.Sprintf("/v1/conversation-list?limit=%d", limit), &resp, func(ctx context.Context, db *store.DB) error {
				var err error
				resp.Conversations, err = intake.ListConversations(ctx, db, limit)
				return err
			})
			if err != nil || asJSON {
				return printJSON(w, err, resp.Conversations)
			}
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tCREATED\tMESSAGES\tTAG\tSUBJECT")
			for _, c := range resp.Conversations {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", c.ID, c.Kind, when(c.Created), c.Messages, orDash(c.Tag), cell(short(c.Subject, 60)))
			}
			return tw.Flush()
		})
	list.Flags().IntVar(&limit, "limit", 50, "at most this many conversations (the newest)")

	dataSubcommand(cmd, &asJSON, "show ID", "Show a conversation's messages: author, time, channel, text, and what was cut as quoted",
		cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
			var d intake.ConversationDetail
			err := queueCall(data, http.MethodGet, "/v1/conversation-detail/"+url.PathEscape(args[0]), &d, func(ctx context.Context, db *store.DB) error {
				var err error
				d, err = intake.ShowConversation(ctx, db, args[0])
				return err
			})
			if err != nil || asJSON {
				return printJSON(w, err, d)
			}
			printConversation(w, d)
			return nil
		})
	return cmd
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

func printConversation(w io.Writer, d intake.ConversationDetail) {
	c := d.Conversation
	fmt.Fprintf(w, "conversation %s (%s), created %s\n", c.ID, c.Kind, when(c.Created))
	if c.Subject != "" {
		fmt.Fprintf(w, "subject: %s\n", cell(c.Subject))
	}
	fmt.Fprintln(w, plural(len(d.Messages), "message"))
	for _, m := range d.Messages {
		fmt.Fprintf(w, "\n--- %s  %s  by %s  via %s", m.ID, when(m.Created), cell(m.AuthorName), m.Channel)
		if m.Retracted {
			fmt.Fprint(w, "  (retracted)")
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, indent(m.Text))
		if m.Attachments > 0 {
			fmt.Fprintf(w, "  [%s]\n", plural(m.Attachments, "attachment"))
		}
		switch {
		case m.Quoted != "":
			fmt.Fprintln(w, "  cut as quoted:")
			fmt.Fprintln(w, indent(indent(m.Quoted)))
		case m.QuotedNote != "":
			fmt.Fprintf(w, "  cut as quoted: unknown (%s)\n", m.QuotedNote)
		}
	}
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
