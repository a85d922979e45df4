package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/httpapi"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/store"
)

func init() { subcommands = append(subcommands, newDeliverCmd) }

// Exit codes of sysexits.h, which Postfix's pipe(8) understands.
const (
	exUsage     = 64 // bad arguments
	exDataErr   = 65 // the message itself is refused (bounce)
	exNoUser    = 67 // a recipient is not ours (bounce)
	exTempFail  = 75 // try again later (Postfix defers)
	exitSuccess = 0
)

func newDeliverCmd() *cobra.Command {
	var sender string
	cmd := &cobra.Command{
		Use:   "deliver [-f SENDER] RECIPIENT...",
		Short: "Store one message read from stdin (for Postfix's pipe transport)",
		Long: "Store one message read from stdin, for sites that run deskmail behind Postfix:\n\n" +
			"  deskmail unix - n n - - pipe\n" +
			"    flags=Rq user=deskmail argv=/usr/local/bin/deskmail deliver --config /etc/deskmail.toml -f ${sender} -- ${recipient}\n\n" +
			"It hands the message to the running daemon through the control socket, or\n" +
			"stores it in the data folder itself when the daemon is stopped. Exit status\n" +
			"follows sysexits: 0 stored, 75 try again later, 65 message refused,\n" +
			"67 recipient not ours, 64 bad usage.",
	}
	cmd.Flags().StringVarP(&sender, "from", "f", "", "envelope sender (empty: the null reverse path)")
	loader := config.Register(cmd.Flags(), "data", "store", "domain", "max-message-bytes", "max-header-bytes", "hostname", "max-pending", "max-pending-bytes")
	// The setting's help speaks of SMTP; deliver has no EHLO.
	cmd.Flags().Lookup("max-message-bytes").Usage = "largest message stored when the daemon is stopped (a running daemon applies its own limit)"
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return &exitError{exUsage, errors.New("deliver: at least one recipient is required")}
		}
		cfg, err := loader.Load(os.Environ())
		if err != nil {
			return &exitError{exUsage, err}
		}
		cliStore = cfg.Store
		code, err := deliver(cfg, sender, args, cmd.InOrStdin())
		if code != exitSuccess {
			return &exitError{code, err}
		}
		return nil
	}
	return cmd
}

func deliver(cfg *config.Config, sender string, rcpts []string, stdin io.Reader) (int, error) {
	domains := inbound.NewDomains(cfg.Domains)
	for _, r := range rcpts {
		if !domains.Accepts(r) {
			return exNoUser, fmt.Errorf("recipient %s: not a domain deskmail accepts mail for", r)
		}
	}
	q := url.Values{"mail_from": {sender}, "rcpt": rcpts, "proto": {"deliver"}}
	// NopCloser: when no daemon answers, the HTTP client closes the body it
	// was given, and stdin is still needed for the offline path.
	resp, err := controlDo(cfg.Data, 10*time.Minute, http.MethodPost, "/v1/inbound?"+q.Encode(), io.NopCloser(stdin))
	switch {
	case errors.Is(err, errNoDaemon):
		return deliverOffline(cfg, sender, rcpts, stdin)
	case err != nil:
		return exTempFail, err
	}
	defer resp.Body.Close()
	var eb httpapi.ErrorBody
	if resp.StatusCode != http.StatusOK {
		_ = json.NewDecoder(resp.Body).Decode(&eb)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		return exitSuccess, nil
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return exDataErr, errors.New(eb.Error)
	case resp.StatusCode == http.StatusBadRequest && eb.Field == "rcpt":
		return exNoUser, errors.New(eb.Error)
	case resp.StatusCode == http.StatusBadRequest:
		return exDataErr, errors.New(eb.Error)
	default:
		return exTempFail, fmt.Errorf("daemon answered %s: %s", resp.Status, eb.Error)
	}
}

// deliverOffline stores the message in the data folder directly; the
// daemon's pipeline picks it up from the pending index when it starts.
func deliverOffline(cfg *config.Config, sender string, rcpts []string, stdin io.Reader) (int, error) {
	ctx := context.Background() // the top of the offline path: no caller context
	db, err := openStore(cfg.Data, store.Options{LockTimeout: 5 * time.Second})
	if err != nil {
		return exTempFail, err
	}
	defer db.Close()
	// Running nodes on a shared database process it at once.
	defer db.Publish(gateway.TopicInbound, "")
	// The daemon's backlog bound holds here too: with the daemon stopped
	// the backlog can only grow, and Postfix keeps what it cannot hand over.
	backlog := &inbound.Backlog{MaxPending: int64(cfg.MaxPending), MaxBytes: cfg.MaxPendingBytes}
	if err := backlog.Load(ctx, db); err != nil {
		return exTempFail, err
	}
	r := &inbound.Receiver{DB: db, Clock: clock.Real{}, Hostname: cfg.Hostname, Backlog: backlog,
		Limits: inbound.Limits{MaxMessageBytes: cfg.MaxMessageBytes, MaxHeaderBytes: int(cfg.MaxHeaderBytes)}}
	_, err = r.Receive(ctx, inbound.Envelope{MailFrom: sender, Rcpts: rcpts, Proto: "deliver", RemoteIP: "local"}, stdin)
	var te *inbound.TempError
	switch {
	case err == nil:
		return exitSuccess, nil
	case errors.Is(err, inbound.ErrTooLarge), errors.Is(err, inbound.ErrHeaderTooLarge):
		_ = r.Reject(ctx, inbound.Envelope{MailFrom: sender, Rcpts: rcpts, Proto: "deliver", RemoteIP: "local"}, err.Error())
		return exDataErr, err
	case errors.As(err, &te):
		return exTempFail, err
	default:
		slog.Default().Debug("deliver read error", "err", err)
		return exTempFail, err
	}
}
