package intake

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// ThreadExplanation is what `deskmail explain` says about threading.
type ThreadExplanation struct {
	Conversation *string `json:"conversation"` // null when none matched
	By           string  `json:"by"`           // token, references, subject, new, none
	Reason       string  `json:"reason,omitempty"`
}

// ExplainThreadIn matches raw against the store named by storeSpec (a
// postgres:// URL: the shared database, with or without nodes running), or
// with an empty storeSpec against the data folder dataDir, read-only: the
// bbolt file is opened with a shared lock (so it fails while the daemon
// runs) and the keyring is read, never created. Sender checks are not run
// (they need the envelope and DNS). Without the keyring, tokens cannot be
// verified. Support addresses default to support@ each recipient domain,
// as the daemon's default is support@ each domain.
func ExplainThreadIn(ctx context.Context, storeSpec, dataDir string, raw []byte, rcpts, support []string) ThreadExplanation {
	none := func(why string) ThreadExplanation { return ThreadExplanation{By: "none", Reason: why} }
	e := parseEmail(raw)
	in := threading.Inbound{EnvelopeTo: rcpts, To: e.To, Cc: e.Cc, From: e.From,
		InReplyTo: e.InReplyTo, References: e.References, Subject: e.Subject}
	var domains []string
	for _, a := range append(append(append([]string{}, rcpts...), e.To...), e.Cc...) {
		if at := strings.LastIndexByte(a, '@'); at > 0 {
			domains = append(domains, strings.ToLower(a[at+1:]))
		}
	}
	if support == nil {
		for _, d := range domains {
			support = append(support, "support@"+d)
		}
	}
	m := threading.Matcher{ReplyDomains: domains, SupportAddresses: support}
	keyDir := dataDir
	if store.IsPostgres(storeSpec) {
		// The nodes' shared keyring is in the database; the loader reads
		// a folder, so it gets a private copy.
		tmp, err := os.MkdirTemp("", "deskmail-explain-")
		if err != nil {
			return none(err.Error())
		}
		defer os.RemoveAll(tmp)
		if k, err := store.ReadSharedSecret(ctx, storeSpec, threading.KeyFile); err == nil && k != nil {
			if err := os.WriteFile(filepath.Join(tmp, threading.KeyFile), k, 0o600); err != nil {
				return none(err.Error())
			}
		}
		keyDir = tmp
	}
	if _, err := os.Stat(filepath.Join(keyDir, threading.KeyFile)); err == nil {
		keys, err := threading.LoadOrCreateKeyring(keyDir)
		if err != nil {
			return none(err.Error())
		}
		m.Tokens = keys
	}
	db, err := store.OpenStore(storeSpec, dataDir, store.Options{ReadOnly: true, NoMigrate: true})
	if errors.Is(err, store.ErrLocked) {
		return none("the daemon holds " + dataDir + ": stop it to explain threading offline")
	}
	if err != nil {
		return none(err.Error())
	}
	defer db.Close()
	var res threading.Match
	err = db.View(ctx, func(tx *store.Tx) error {
		m.Index, m.Describe = model.View{Tx: tx}, describer(tx)
		res, err = m.Match(in)
		return err
	})
	if err != nil {
		return none(err.Error())
	}
	out := ThreadExplanation{By: threadBy(res.Method), Reason: res.Reason}
	if res.Conversation != "" {
		out.Conversation = &res.Conversation
	}
	return out
}
