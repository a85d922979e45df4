package main

import (
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

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newAutomationsCmd) }

// The automations commands work on the running daemon over the control
// socket, or on the data folder when it is stopped.
func newAutomationsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "automations", Short: "List, show, edit, enable and disable automations (the built-in one stays on)"}
	var asJSON bool
	var file string
	sub := func(use, short string, args cobra.PositionalArgs, run func(w io.Writer, data string, args []string) error) *cobra.Command {
		return dataSubcommand(cmd, &asJSON, use, short, args, run)
	}
	path := func(id string) string { return "/v1/automations/" + url.PathEscape(id) }
	sub("list", "List the automations, the built-in one first", cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
		list, err := centerList(data, "/v1/automations", "automations", center.Automations)
		if err != nil || asJSON {
			return printJSON(w, err, list)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tENABLED\tTRIGGER\tACTION\tNAME")
		for _, a := range list {
			on := fmt.Sprint(a.Enabled)
			if a.Builtin {
				on = "always"
			}
			action := a.Action.Kind
			if a.Action.Kind == center.SendEmail {
				action += " " + a.Action.Template + " to " + strings.Join(a.Action.To, ",")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.ID, on, a.Trigger, action, a.Name)
		}
		return tw.Flush()
	})
	sub("show ID", "Print an automation as JSON, the format edit reads", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		var a center.Automation
		err := centerCall(data, http.MethodGet, path(args[0]), nil, &a, func(tx *store.Tx) error {
			var err error
			a, err = center.GetAutomation(tx, args[0])
			return err
		})
		return printJSON(w, err, a)
	})
	edit := sub("edit ID", "Create or change an automation from JSON (--file, or $EDITOR); of the built-in one only action.text", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		src, err := readAutomation(data, args[0], file, path(args[0]))
		if err != nil {
			return err
		}
		var in httpapi.AutomationInput
		dec := json.NewDecoder(strings.NewReader(src))
		if err := dec.Decode(&in); err != nil {
			return fmt.Errorf("read the automation: %w", err)
		}
		a := center.Automation{ID: args[0], Name: in.Name, Enabled: in.Enabled == nil || *in.Enabled,
			Trigger: in.Trigger, Conditions: in.Conditions, Action: in.Action}
		var out center.Automation
		err = centerCall(data, http.MethodPut, path(args[0]), in, &out, func(tx *store.Tx) error {
			var err error
			out, err = center.PutAutomation(tx, a, time.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("automation %s refused: %w", args[0], err)
		}
		fmt.Fprintf(w, "%s saved\n", out.ID)
		return nil
	})
	edit.Flags().StringVar(&file, "file", "", "read the automation JSON from this file (- for stdin) instead of opening $EDITOR")
	for _, on := range []bool{true, false} {
		use, short := "enable ID", "Switch an automation on"
		if !on {
			use, short = "disable ID", "Switch an automation off (the built-in one cannot be)"
		}
		sub(use, short, cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
			body := map[string]bool{"enabled": on}
			err := centerCall(data, http.MethodPatch, path(args[0]), body, nil, func(tx *store.Tx) error {
				_, err := center.SetAutomationEnabled(tx, args[0], on, time.Now())
				return err
			})
			if err == nil {
				fmt.Fprintf(w, "%s %s\n", args[0], map[bool]string{true: "enabled", false: "disabled"}[on])
			}
			return err
		})
	}
	sub("delete ID", "Delete an automation (the built-in one cannot be)", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		err := centerCall(data, http.MethodDelete, path(args[0]), nil, nil, func(tx *store.Tx) error {
			return center.DeleteAutomation(tx, args[0])
		})
		if err == nil {
			fmt.Fprintf(w, "%s deleted\n", args[0])
		}
		return err
	})
	return cmd
}

// readAutomation returns the JSON to save: from file, or what the user
// wrote in $EDITOR starting from the current automation.
func readAutomation(data, id, file, apiPath string) (string, error) {
	return readInput(file, id+".json", func() ([]byte, error) {
		a := center.Automation{ID: id, Enabled: true, Trigger: center.ItemClosed, Action: center.Action{Kind: center.PostMessage, Text: "..."}}
		err := centerCall(data, http.MethodGet, apiPath, nil, &a, func(tx *store.Tx) error {
			got, err := center.GetAutomation(tx, id)
			if err == nil {
				a = got
			}
			return nil
		})
		if err != nil && !errors.Is(err, errNotFound) {
			return nil, err
		}
		in := httpapi.AutomationInput{Name: a.Name, Enabled: &a.Enabled, Trigger: a.Trigger, Conditions: a.Conditions, Action: a.Action}
		return json.MarshalIndent(in, "", "  ")
	})
}
