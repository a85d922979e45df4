package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/center"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/templates"
)

func init() { subcommands = append(subcommands, newTemplatesCmd) }

// The templates commands work on the running daemon over the control
// socket, or on the data folder when it is stopped.
func newTemplatesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "templates", Short: "List, edit, preview and reset email templates; switch system emails on and off"}
	var asJSON bool
	var file string
	sub := func(use, short string, args cobra.PositionalArgs, run func(w io.Writer, data string, args []string) error) *cobra.Command {
		return dataSubcommand(cmd, &asJSON, use, short, args, run)
	}
	path := func(name string, rest ...string) string {
		return "/v1/templates/" + url.PathEscape(name) + strings.Join(rest, "")
	}
	sub("list", "List the system emails (on or off) and the other templates", cobra.NoArgs, func(w io.Writer, data string, _ []string) error {
		list, err := centerList(data, "/v1/templates", "templates", templates.List)
		if err != nil || asJSON {
			return printJSON(w, err, list)
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSYSTEM\tENABLED\tCUSTOMIZED\tVERSION\tSENT WHEN")
		for _, t := range list {
			on := fmt.Sprint(t.Enabled)
			if t.AlwaysOn {
				on = "always"
			}
			fmt.Fprintf(tw, "%s\t%v\t%s\t%v\t%d\t%s\n", t.Name, t.System, on, t.Customized, t.Version, orDash(t.Description))
		}
		return tw.Flush()
	})
	sub("show NAME", "Print a template in the format edit reads, and its history", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		var v httpapi.TemplateView
		err := centerCall(data, http.MethodGet, path(args[0]), nil, &v, func(tx *store.Tx) error {
			var err error
			if v.Template, err = templates.Get(tx, args[0]); err != nil {
				return err
			}
			v.Enabled = templates.Enabled(tx, args[0])
			if v.History, err = templates.History(tx, args[0]); err != nil {
				return err
			}
			v.Automations, err = center.UsedBy(tx, args[0])
			return err
		})
		if err != nil || asJSON {
			return printJSON(w, err, v)
		}
		io.WriteString(w, formatTemplate(v.Template))
		fmt.Fprintf(w, "--- version %d, enabled %v; sent by automations: %s; history:\n", v.Template.Version, v.Enabled, orDash(strings.Join(v.Automations, ", ")))
		for _, h := range v.History {
			fmt.Fprintf(w, "  v%d  %s  %s\n", h.Version, h.Updated.Local().Format(time.DateTime), h.Note)
		}
		return nil
	})
	edit := sub("edit NAME", "Edit a template (from --file, or in $EDITOR); a template that does not parse or render is refused and the old one kept", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		src, err := readEdit(data, args[0], file, path(args[0]))
		if err != nil {
			return err
		}
		t, err := parseTemplate(args[0], src)
		if err != nil {
			return err
		}
		in := httpapi.TemplateInput{Subject: t.Subject, Text: t.Text, HTML: t.HTML}
		var out templates.Template
		err = centerCall(data, http.MethodPut, path(args[0]), in, &out, func(tx *store.Tx) error {
			var err error
			out, err = templates.Save(tx, t, time.Now())
			return err
		})
		if err != nil {
			return fmt.Errorf("template %s refused, the previous version stays: %w", args[0], err)
		}
		fmt.Fprintf(w, "%s saved as version %d\n", out.Name, out.Version)
		for _, warn := range templates.Warnings(t) {
			fmt.Fprintf(w, "warning: %s\n", warn)
		}
		return nil
	})
	edit.Flags().StringVar(&file, "file", "", "read the template from this file (- for stdin) instead of opening $EDITOR")
	sub("preview NAME", "Render a template with sample data", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		var r templates.Rendered
		err := centerCall(data, http.MethodPost, path(args[0], "/preview"), nil, &r, func(tx *store.Tx) error {
			var err error
			r, err = templates.Preview(tx, args[0])
			return err
		})
		if err != nil || asJSON {
			return printJSON(w, err, r)
		}
		fmt.Fprintf(w, "Subject: %s\n--- text\n%s\n--- html\n%s", r.Subject, r.Text, r.HTML)
		return nil
	})
	sub("reset NAME", "Put the default template back (the edited versions stay in the history)", cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
		var out templates.Template
		err := centerCall(data, http.MethodPost, path(args[0], "/reset"), nil, &out, func(tx *store.Tx) error {
			var err error
			out, err = templates.Reset(tx, args[0], time.Now())
			return err
		})
		if err == nil {
			fmt.Fprintf(w, "%s reset to its default (version %d)\n", out.Name, out.Version)
		}
		return err
	})
	for _, on := range []bool{true, false} {
		use, short := "enable NAME", "Switch a system email on"
		if !on {
			use, short = "disable NAME", "Switch a system email off (password_reset cannot be)"
		}
		sub(use, short, cobra.ExactArgs(1), func(w io.Writer, data string, args []string) error {
			err := centerCall(data, http.MethodPatch, "/v1/system-emails/"+url.PathEscape(args[0]), httpapi.SystemEmailSwitch{Enabled: &on}, nil, func(tx *store.Tx) error {
				return templates.SetEnabled(tx, args[0], on)
			})
			if err == nil {
				fmt.Fprintf(w, "%s %s\n", args[0], map[bool]string{true: "enabled", false: "disabled"}[on])
			}
			return err
		})
	}
	return cmd
}

// formatTemplate writes t as edit reads it.
func formatTemplate(t templates.Template) string {
	return "Subject: " + t.Subject + "\n--- text\n" + strings.TrimSuffix(t.Text, "\n") + "\n--- html\n" + strings.TrimSuffix(t.HTML, "\n") + "\n"
}

// parseTemplate reads what formatTemplate writes.
func parseTemplate(name, src string) (templates.Template, error) {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	first, rest, _ := strings.Cut(src, "\n")
	subject, ok := strings.CutPrefix(first, "Subject:")
	if !ok {
		return templates.Template{}, errors.New(`the first line must be "Subject: ..."`)
	}
	rest, ok = strings.CutPrefix(rest, "--- text\n")
	text, html, ok2 := strings.Cut(rest, "\n--- html\n")
	if !ok || !ok2 {
		return templates.Template{}, errors.New(`a "--- text" line must follow the subject, then a "--- html" line`)
	}
	return templates.Template{Name: name, Subject: strings.TrimSpace(subject), Text: text + "\n", HTML: html}, nil
}

// readEdit returns the template to save: from file, or what the user
// wrote in $EDITOR starting from the current version.
func readEdit(data, name, file, apiPath string) (string, error) {
	return readInput(file, name+".tmpl", func() ([]byte, error) {
		var v httpapi.TemplateView
		err := centerCall(data, http.MethodGet, apiPath, nil, &v, func(tx *store.Tx) error {
			var err error
			v.Template, err = templates.Get(tx, name)
			if errors.Is(err, templates.ErrNotFound) {
				v.Template, err = templates.Template{Name: name}, nil // a new template
			}
			return err
		})
		if errors.Is(err, errNotFound) {
			v.Template, err = templates.Template{Name: name}, nil // a new template
		}
		if err != nil {
			return nil, err
		}
		return []byte(formatTemplate(v.Template)), nil
	})
}

// centerCall asks the daemon (sending in as JSON), or runs offline in a
// transaction on the stopped daemon's data folder (read-only for GET).
// centerList reads a list: GET path from the running daemon, answered as
// {"field": [...]}, or, with no daemon, read on the store.
func centerList[T any](data, path, field string, read func(*store.Tx) ([]T, error)) ([]T, error) {
	var list []T
	var resp map[string]json.RawMessage
	err := centerCall(data, http.MethodGet, path, nil, &resp, func(tx *store.Tx) error {
		var err error
		list, err = read(tx)
		return err
	})
	if raw, ok := resp[field]; ok && err == nil {
		err = json.Unmarshal(raw, &list)
	}
	return list, err
}

func centerCall(data, method, path string, in, out any, offline func(tx *store.Tx) error) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	resp, err := controlDo(data, 30*time.Second, method, path, body)
	if errors.Is(err, errNoDaemon) {
		ro := method == http.MethodGet || strings.HasSuffix(path, "/preview")
		if _, err := os.Stat(filepath.Join(data, store.DBFile)); ro && !store.IsPostgres(cliStore) && errors.Is(err, os.ErrNotExist) {
			// No data folder yet: read the defaults from an empty store.
			tmp, err := os.MkdirTemp("", "deskmail-empty-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			data, ro = tmp, false
		}
		db, err := openStore(data, store.Options{ReadOnly: ro})
		if err != nil {
			return err
		}
		defer db.Close()
		if ro {
			return db.View(offline)
		}
		return db.Update(context.Background(), offline)
	}
	if err != nil {
		return err
	}
	return readAnswer(resp, out)
}
