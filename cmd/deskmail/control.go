package main

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/httpapi"

	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/store"
)

// cliStore is the running command's --store: "" for the data folder's
// bbolt file, or the nodes' shared PostgreSQL database. A node running on
// the --data folder is still asked first (it applies its own settings and
// wakes itself); without one the command reads and changes the database
// directly, and every node sees the change.
var cliStore string

// openStore opens the command's store when no daemon answers (bbolt) or
// always (PostgreSQL). It never migrates: a schema this binary does not
// match is an error that says what to do.
func openStore(data string, opts store.Options) (*store.DB, error) {
	if store.IsPostgres(cliStore) {
		opts.NoMigrate = true
	}
	return store.OpenStore(cliStore, data, opts)
}

// wakeNodes tells running nodes that the command changed their queue.
func wakeNodes(db *store.DB) {
	db.Publish(gateway.TopicQueue, "")
	db.Publish(gateway.TopicInbound, "") // inbound retry goes through queueCall too
}

// errNoDaemon means no daemon answers on the data folder's control socket,
// so the command may open the data folder itself.
var errNoDaemon = errors.New("no running daemon")

// controlClient talks HTTP to a running daemon over its control socket.
func controlClient(dataDir string, timeout time.Duration) *http.Client {
	sock := filepath.Join(dataDir, gateway.SocketName)
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", sock)
			},
		},
	}
}

// controlDo sends a request to the daemon; errNoDaemon when none listens.
func controlDo(dataDir string, timeout time.Duration, method, path string, body io.Reader) (*http.Response, error) {
	req, err := http.NewRequest(method, "http://deskmail"+path, body)
	if err != nil {
		return nil, err
	}
	resp, err := controlClient(dataDir, timeout).Do(req)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, errNoDaemon
		}
		return nil, fmt.Errorf("talk to the running daemon: %w", err)
	}
	return resp, nil
}

// dataSubcommand adds to parent a subcommand with --data (and --config)
// and --json, whose run gets the data folder: the shape of every command
// that talks to the running daemon or opens its stopped data folder.
func dataSubcommand(parent *cobra.Command, asJSON *bool, use, short string, args cobra.PositionalArgs,
	run func(w io.Writer, data string, args []string) error) *cobra.Command {
	c := &cobra.Command{Use: use, Short: short, Args: args}
	loader := config.Register(c.Flags(), "data", "store")
	c.Flags().BoolVar(asJSON, "json", false, "print JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return err
		}
		cliStore = cfg.Store
		return run(plainOut(c.OutOrStdout()), cfg.Data, args)
	}
	parent.AddCommand(c)
	return c
}

// The kinds of error the daemon answers, by status: callers compare with
// errors.Is, never with the text (which is the daemon's, for people).
var (
	errNotFound    = errors.New("not found")          // 404
	errConflict    = errors.New("conflict")           // 409
	errInvalid     = errors.New("invalid request")    // 400, 413, 422
	errUnavailable = errors.New("daemon unavailable") // 503
)

// daemonError is an error the daemon answered: its text, and the sentinel
// of its status (nil for the others).
type daemonError struct {
	msg  string
	kind error
}

func (e *daemonError) Error() string { return e.msg }
func (e *daemonError) Unwrap() error { return e.kind }

func statusKind(code int) error {
	switch code {
	case http.StatusNotFound:
		return errNotFound
	case http.StatusConflict:
		return errConflict
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return errInvalid
	case http.StatusServiceUnavailable:
		return errUnavailable
	}
	return nil
}

// readAnswer reads a daemon's JSON answer into out (nil: ignore it); an
// answer other than 200 becomes the error the daemon wrote, which
// wraps the sentinel of its status.
func readAnswer(resp *http.Response, out any) error {
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var eb httpapi.ErrorBody
		_ = json.NewDecoder(resp.Body).Decode(&eb)
		if eb.Error == "" {
			eb.Error = "daemon answered " + resp.Status
		}
		return &daemonError{msg: eb.Error, kind: statusKind(resp.StatusCode)}
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
