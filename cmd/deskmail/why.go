package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/story"
)

func init() { subcommands = append(subcommands, newWhyCmd) }

// why tells the delivery story of a message, the same as the console's
// /messages/{id} page: who was notified by which rule, who saw it when,
// and what became of each email.
func newWhyCmd() *cobra.Command {
	var asJSON bool
	var msg, person string
	c := &cobra.Command{
		Use:   "why --message ID [--person P]",
		Short: "Tell why each person was or wasn't emailed about a message",
		Args:  cobra.NoArgs,
	}
	// retention still comes from the config file and environment (how far
	// back the story reaches when the daemon is stopped); it is not a flag
	// of this command.
	loader := config.Register(c.Flags(), "data", "store")
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	c.Flags().StringVar(&msg, "message", "", "the conversation message's ID (required)")
	c.Flags().StringVar(&person, "person", "", "only this person (and, if not notified, why not)")
	_ = c.MarkFlagRequired("message")
	c.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return err
		}
		var st story.Story
		path := "/v1/why/" + url.PathEscape(msg)
		if person != "" {
			path += "?person=" + url.QueryEscape(person)
		}
		resp, err := controlDo(cfg.Data, 30*time.Second, http.MethodGet, path, nil)
		switch {
		case errors.Is(err, errNoDaemon):
			cliStore = cfg.Store
			db, err := openStore(cfg.Data, store.Options{ReadOnly: true})
			if err != nil {
				return err
			}
			defer db.Close()
			st, err = story.BuildStory(c.Context(), db, msg, person, time.Now().Add(-cfg.Retention))
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			if err := readAnswer(resp, &st); err != nil {
				return err
			}
		}
		if asJSON {
			return printJSON(c.OutOrStdout(), nil, st)
		}
		return printStory(plainOut(c.OutOrStdout()), st)
	}
	return c
}

func printStory(w io.Writer, st story.Story) error {
	var b strings.Builder
	m := st.Message
	fmt.Fprintf(&b, "message %s in conversation %s (%s)\n", m.ID, m.Conversation, st.Conversation.Kind)
	author := m.Author
	if st.Author != "" {
		author = st.Author + " (" + m.Author + ")"
	}
	fmt.Fprintf(&b, "posted %s by %s via %s\n", m.Created.Local().Format(time.DateTime), author, m.Channel)
	if m.Retracted != nil {
		fmt.Fprintf(&b, "retracted %s\n", m.Retracted.Local().Format(time.DateTime))
	}
	if a := st.Arrival; a != nil {
		fmt.Fprintf(&b, "arrived by email %s from %s: class %s, %s\n", a.Time.Local().Format(time.DateTime), a.EnvelopeFrom, a.Class, a.Action)
	}
	if st.NotNotified != nil {
		fmt.Fprintf(&b, "\n%s was not notified: %s\n", st.Person, st.NotNotified.Why)
	}
	if len(st.Recipients) == 0 && st.NotNotified == nil {
		b.WriteString("\nnobody was notified of this message\n")
	}
	for _, r := range st.Recipients {
		name := r.Person
		if r.Name != "" {
			name = r.Name + " (" + r.Person + ")"
		}
		fmt.Fprintf(&b, "\n%s <%s>\n", name, strings.Join(r.Emails, ", "))
		fmt.Fprintf(&b, "  rule:     %s\n", r.Rule)
		fmt.Fprintf(&b, "  notified: %s\n", r.Notified.Local().Format(time.DateTime))
		seen := "not seen"
		if r.Seen != nil {
			seen = r.Seen.Local().Format(time.DateTime)
		}
		fmt.Fprintf(&b, "  seen:     %s\n", seen)
		fmt.Fprintf(&b, "  email:    %s\n", orDash(r.Email))
		if r.Job != nil {
			fmt.Fprintf(&b, "  job:      %s\n", r.Job.ID)
		}
		for _, e := range r.History {
			fmt.Fprintf(&b, "    %s  %-10s %s\n", e.Time.Local().Format(time.DateTime), e.Status, e.Reason)
		}
		fmt.Fprintf(&b, "  => %s\n", r.Summary)
	}
	_, err := io.WriteString(w, b.String())
	return err
}
