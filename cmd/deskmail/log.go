package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newLogCmd) }

type logOpts struct {
	hours     float64
	direction string
	status    string
	class     string
	address   string
	limit     int
	asJSON    bool
	follow    bool
}

func newLogCmd() *cobra.Command {
	var o logOpts
	cmd := &cobra.Command{
		Use:   "log",
		Short: "Show the incoming/outgoing email log",
		Long: "Show the incoming/outgoing email log. It asks the running daemon through\n" +
			"the control socket in the data folder, or reads the data folder itself\n" +
			"when the daemon is stopped.",
		Args: cobra.NoArgs,
	}
	f := cmd.Flags()
	o.hours = 72
	f.Var(config.Hours(&o.hours), "hours", "how far back to look: hours (72, 1.5) or a duration (2h, 90m)")
	f.Var(config.Choice(&o.direction, string(journal.In), string(journal.Out)), "direction", "only incoming or outgoing email")
	f.Var(config.Choice(&o.status, journal.Statuses...), "status", "only this status: "+strings.Join(journal.Statuses, ", "))
	f.Var(config.Choice(&o.class, "human", "auto_reply", "bounce", "bulk", "looping"), "class", "only this class of the loop guard")
	f.StringVar(&o.address, "address", "", "only entries with this address (substring, any sender or recipient)")
	f.IntVar(&o.limit, "limit", 1000, "at most this many entries (the newest)")
	f.BoolVar(&o.asJSON, "json", false, "one JSON object per line")
	f.BoolVar(&o.follow, "follow", false, "keep watching for new entries")
	loader := config.Register(f, "data", "store")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return err
		}
		cliStore = cfg.Store
		return runLog(plainOut(cmd.OutOrStdout()), cfg.Data, o)
	}
	return cmd
}

func runLog(w io.Writer, dataDir string, o logOpts) error {
	p := newLogPrinter(w, o.asJSON)
	entries, err := fetchLog(dataDir, o, "")
	if err != nil {
		return err
	}
	p.print(entries)
	if !o.follow {
		return nil
	}
	cursor := ""
	if n := len(entries); n > 0 {
		cursor = entries[n-1].ID
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-tick.C:
		}
		entries, err := fetchLog(dataDir, o, cursor)
		if err != nil {
			fmt.Fprintln(os.Stderr, "deskmail log:", err)
			continue
		}
		p.print(entries)
		if n := len(entries); n > 0 {
			cursor = entries[n-1].ID
		}
	}
}

// fetchLog asks the daemon, or reads the stopped daemon's data folder.
func fetchLog(dataDir string, o logOpts, after string) ([]journal.Entry, error) {
	q := url.Values{}
	q.Set("hours", strconv.FormatFloat(o.hours, 'f', -1, 64))
	q.Set("limit", strconv.Itoa(o.limit))
	for k, v := range map[string]string{"direction": o.direction, "status": o.status,
		"class": o.class, "address": o.address, "after": after} {
		if v != "" {
			q.Set(k, v)
		}
	}
	resp, err := controlDo(dataDir, 30*time.Second, http.MethodGet, "/v1/log?"+q.Encode(), nil)
	if errors.Is(err, errNoDaemon) {
		return readLogOffline(dataDir, o, after)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb httpapi.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		return nil, fmt.Errorf("daemon answered %s: %s", resp.Status, eb.Error)
	}
	var lr httpapi.LogResponse
	if err := json.NewDecoder(resp.Body).Decode(&lr); err != nil {
		return nil, fmt.Errorf("read daemon answer: %w", err)
	}
	return lr.Entries, nil
}

func readLogOffline(dataDir string, o logOpts, after string) ([]journal.Entry, error) {
	db, err := openStore(dataDir, store.Options{ReadOnly: true})
	if errors.Is(err, store.ErrLocked) {
		return nil, fmt.Errorf("the daemon holds %s but its control socket does not answer: %w", dataDir, err)
	}
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("no data in %s: start the daemon there (deskmail serve --data %s) or name another folder with --data", dataDir, dataDir)
	}
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return journal.Query(context.Background(), db, journal.Filter{
		Since: time.Now().Add(-time.Duration(o.hours * float64(time.Hour))), After: after,
		Direction: journal.Direction(o.direction), Status: o.status, Class: o.class,
		Address: o.address, Limit: o.limit,
	})
}

type logPrinter struct {
	w      io.Writer
	asJSON bool
	header bool
}

func newLogPrinter(w io.Writer, asJSON bool) *logPrinter { return &logPrinter{w: w, asJSON: asJSON} }

func (p *logPrinter) print(entries []journal.Entry) {
	if p.asJSON {
		enc := json.NewEncoder(jsonOut(p.w))
		for i := range entries {
			_ = enc.Encode(&entries[i])
		}
		return
	}
	tw := tabwriter.NewWriter(p.w, 0, 0, 2, ' ', 0)
	if !p.header {
		fmt.Fprintln(tw, "TIME\tDIR\tSTATUS\tFROM\tTO\tSUBJECT\tCLASS\tDETAIL")
		p.header = true
	}
	for _, e := range entries {
		from := e.EnvelopeFrom
		if from == "" {
			from = "<>"
		}
		detail := e.Reason
		if e.Action != "" {
			detail = strings.TrimSpace(e.Action + " " + detail)
		}
		if e.Unverified {
			detail = "UNVERIFIED sender; " + detail
		}
		if len(e.Reasons) > 0 {
			detail = strings.TrimSpace(detail + " (" + strings.Join(e.Reasons, "; ") + ")")
		}
		if e.RemoteIP != "" {
			detail = strings.TrimSpace(detail + " [" + e.RemoteIP + "]")
		}
		if e.Via != "" {
			detail = strings.TrimSpace(detail + " via " + e.Via)
		}
		if e.Attention != "" {
			detail = "NEEDS ATTENTION: " + e.Attention + "; " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			e.Time.Local().Format("2006-01-02 15:04:05"), e.Direction, e.Status,
			short(from, 40), short(strings.Join(e.EnvelopeTo, ","), 40), short(e.Subject, 50),
			dash(e.Class), short(detail, 120))
	}
	tw.Flush()
}

// short is s cut to n characters (its control characters escaped; "-" when empty).
func short(s string, n int) string {
	s = cell(s)
	r := []rune(s)
	if len(r) > n {
		return string(r[:n-1]) + "…"
	}
	if s == "" {
		return "-"
	}
	return s
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return cell(s)
}
