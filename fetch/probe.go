package fetch

import (
	"context"
	"fmt"
	"io"

	"github.com/emersion/go-imap"
)

// Probe is `deskmail fetch test`: it connects, signs in, opens the
// folder read-only (EXAMINE) and says what a first run would fetch. It
// changes nothing on the server: no flag, no move, no folder created.
func Probe(ctx context.Context, m *Mailbox, maxBytes int64, w io.Writer) error {
	fmt.Fprintf(w, "mailbox   %s\n", m.Name)
	cn, mb, err := open(ctx, m, newSigner(m), true)
	if err != nil {
		return err
	}
	defer cn.close()
	how := "plain (loopback only)"
	if cn.tls {
		how = "TLS"
		if m.Security == StartTLS {
			how = "STARTTLS"
		}
		if m.TLSInsecure {
			how += ", CERTIFICATE NOT VERIFIED (tls_insecure)"
		}
	}
	fmt.Fprintf(w, "server    %s, %s\n", m.Addr, how)
	fmt.Fprintf(w, "signed in as %s\n", m.User)
	caps, _ := cn.c.Capability()
	wait := "IDLE (new mail within seconds)"
	if !caps["IDLE"] {
		wait = fmt.Sprintf("no IDLE: polled every %s", m.Poll)
	}
	fmt.Fprintf(w, "waits     %s\n", wait)
	fmt.Fprintf(w, "folder    %s: %d messages, UIDVALIDITY %d, next UID %d\n", m.Folder, mb.Messages, mb.UidValidity, mb.UidNext)
	crit := imap.NewSearchCriteria()
	what := "all of them"
	if !m.Since.IsZero() {
		crit.Since = m.Since
		what = "those that arrived since " + m.Since.Format("2006-01-02")
	}
	uids, err := cn.c.UidSearch(crit)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	big := imap.NewSearchCriteria()
	big.Larger = uint32(min(maxBytes, 1<<32-1))
	large, err := cn.c.UidSearch(big)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	fmt.Fprintf(w, "would fetch %d message(s) on a first run (%s), oldest first; %d over the size limit would be logged and left\n", len(uids), what, len(large))
	switch m.After.Kind {
	case "move":
		exists, err := folderExists(cn, m.After.Folder)
		if err != nil {
			return err
		}
		note := "exists"
		if !exists {
			note = "would be created"
		}
		fmt.Fprintf(w, "then      move each stored message to %s (%s)\n", m.After.Folder, note)
	case "seen":
		fmt.Fprintf(w, "then      flag each stored message \\Seen\n")
	case "delete":
		fmt.Fprintf(w, "then      delete each stored message\n")
	}
	fmt.Fprintf(w, "threaded as mail to %s\nnothing was changed on the server\n", m.To)
	return nil
}

func folderExists(cn *conn, name string) (bool, error) {
	ch := make(chan *imap.MailboxInfo, 8)
	done := make(chan error, 1)
	go func() { done <- cn.c.List("", name, ch) }()
	found := false
	for range ch {
		found = true
	}
	if err := <-done; err != nil {
		return false, fmt.Errorf("list %s: %w", name, err)
	}
	return found, nil
}
