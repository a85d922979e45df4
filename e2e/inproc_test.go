package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/deskmail/deskmail/config"
	"github.com/deskmail/deskmail/gateway"
	"github.com/deskmail/deskmail/internal/waitfor"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
)

// The threading scenarios run the daemon in-process (gateway.StartWith),
// not as the built binary: the sender checks need DNS, and only in-process
// can a test give them a fake resolver. Everything else is real: SMTP over
// 127.0.0.1:0 with a go-smtp client, bbolt in t.TempDir(), the pipeline.

// fakeDNS answers TXT from a map; every other name does not exist.
type fakeDNS map[string][]string

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := f[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return v, nil
	}
	return nil, notFound(name)
}
func (fakeDNS) LookupMX(_ context.Context, n string) ([]*net.MX, error) { return nil, notFound(n) }
func (fakeDNS) LookupIPAddr(_ context.Context, n string) ([]net.IPAddr, error) {
	return nil, notFound(n)
}
func (fakeDNS) LookupAddr(_ context.Context, n string) ([]string, error) { return nil, notFound(n) }

// inProcess is a daemon started in this process.
type inProcess struct {
	dir  string
	d    *gateway.Daemon
	SMTP string
}

func startInProcess(t *testing.T, dns fakeDNS, flags ...string) *inProcess {
	t.Helper()
	return startInProcessAt(t, t.TempDir(), gateway.Options{Resolver: dns}, flags...)
}

// startInProcessAt starts the daemon on dir with opts (no Resolver: the
// daemon's own DNS, pointed at a test server with --dns).
func startInProcessAt(t *testing.T, dir string, opts gateway.Options, flags ...string) *inProcess {
	t.Helper()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	l := config.Register(fs)
	args := append([]string{"--data", dir, "--smtp-addr", "127.0.0.1:0", "--http-addr", "off",
		"--domain", "example.test", "--hostname", "mx.example.test"}, append(storeArgs(t, dir), flags...)...)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	cfg, err := l.Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := gateway.StartWith(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), exitTimeout)
		defer cancel()
		_ = d.Shutdown(ctx)
	})
	return &inProcess{dir: dir, d: d, SMTP: d.Addrs["smtp"]}
}

// update runs fn in one transaction and fails the test on error.
func (p *inProcess) update(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := p.d.DB.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// send delivers raw over SMTP with the given envelope.
func (p *inProcess) send(t *testing.T, from string, rcpts []string, raw string) {
	t.Helper()
	c, err := dialSMTP(p.SMTP)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := send(c, from, rcpts, []byte(strings.ReplaceAll(raw, "\n", "\r\n"))); err != nil {
		t.Fatalf("send: %v", err)
	}
	_ = c.Quit()
}

// entries waits until n journal entries carry msgID and are threaded,
// and returns them oldest first.
func (p *inProcess) entries(t *testing.T, msgID string, n int) []journal.Entry {
	t.Helper()
	return waitfor.Value(t, lineTimeout, fmt.Sprintf("%s has %d threaded journal entries", msgID, n), func() ([]journal.Entry, bool) {
		es, err := journal.Query(context.Background(), p.d.DB, journal.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var got []journal.Entry
		for _, e := range es {
			if e.MessageID == "<"+msgID+">" && e.ThreadBy != "" {
				got = append(got, e)
			}
		}
		return got, len(got) >= n
	})
}

// entry waits for the one threaded journal entry of msgID.
func (p *inProcess) entry(t *testing.T, msgID string) journal.Entry { return p.entries(t, msgID, 1)[0] }

// messages lists a conversation's messages.
func (p *inProcess) messages(t *testing.T, conv string) []model.Message {
	t.Helper()
	var ms []model.Message
	if err := p.d.DB.View(context.Background(), func(tx *store.Tx) error {
		var err error
		ms, err = model.Messages(tx, conv, 1000)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return ms
}

// email builds a small message; headers are "Name: value" lines.
func email(msgID string, headers []string, body string) string {
	return fmt.Sprintf("Message-ID: <%s>\nDate: Wed, 25 Nov 2026 12:00:00 +0000\n%s\n\n%s\n",
		msgID, strings.Join(headers, "\n"), body)
}
