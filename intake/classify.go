package intake

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/store"
)

// LoopSecretFile holds the key of the marker deskmail puts on its own mail
// (loopguard.MarkerHeader), made on first start.
const LoopSecretFile = "loop-secret"

// classifyPrefix is how much of a message the loop guard reads: headers and
// the first parts are what decide; a DSN is small.
const classifyPrefix = 4 << 20

// Classifier is the pipeline step that runs the loop guard on a stored
// message and writes the verdict into its record and its journal entry.
type Classifier struct {
	DB    *store.DB
	Guard *loopguard.Guard
	Clock clock.Clock

	// rated remembers the rate limit's verdict per stored email, so an
	// email processed again (its commit failed, it waited for an earlier
	// one) is counted once, not once per attempt, which would make a
	// patient sender "looping".
	ratedOnce sync.Once
	rated     *lru.Cache[string, loopguard.Verdict]
}

// maxRated bounds the memory of rate-limit verdicts (a backlog bigger
// than this may count an email twice after its retries).
const maxRated = 100000

// Step classifies one stored message.
func (c *Classifier) Step(ctx context.Context, m inbound.Meta) (Result, error) {
	raw, err := readStored(ctx, c.DB, m, classifyPrefix)
	if err != nil {
		return Result{}, err
	}
	_, apply := c.classify(m, c.Guard.Parse(raw))
	return Result{Apply: apply}, nil
}

// readStored reads at most limit bytes of a stored message.
func readStored(ctx context.Context, db *store.DB, m inbound.Meta, limit int64) ([]byte, error) {
	return inbound.ReadRaw(ctx, db, m, limit)
}

// classify runs the loop guard on msg, the one parse of the email, and
// returns the verdict and the writes that record it.
func (c *Classifier) classify(m inbound.Meta, msg *mailmsg.Message) (loopguard.Verdict, func(*store.Tx) error) {
	v := c.Guard.ClassifyMessage(loopguard.Envelope{MailFrom: m.Envelope.MailFrom, Rcpts: m.Envelope.Rcpts,
		RemoteIP: m.Envelope.RemoteIP}, msg)
	v = c.checkRate(m, msg, v)
	var bounce json.RawMessage
	if v.Bounce != nil {
		bounce, _ = json.Marshal(v.Bounce)
	}
	action := describe(v)
	return v, func(tx *store.Tx) error {
		if err := inbound.Annotate(tx, m.ID, func(mm *inbound.Meta) {
			mm.Class, mm.Reasons, mm.Bounce = string(v.Class), v.Reasons, bounce
		}); err != nil {
			return err
		}
		return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
			e.Class, e.Reasons, e.Action = string(v.Class), v.Reasons, action
		})
	}
}

// checkRate applies the rate limit once per stored email.
func (c *Classifier) checkRate(m inbound.Meta, msg *mailmsg.Message, v loopguard.Verdict) loopguard.Verdict {
	c.ratedOnce.Do(func() { c.rated, _ = lru.New[string, loopguard.Verdict](maxRated) })
	if v.Class != loopguard.Human {
		return v
	}
	if prev, ok := c.rated.Get(m.ID); ok {
		return prev
	}
	v = c.Guard.CheckRate(v, senderOf(m, msg), rateKey(m), c.Clock.Now())
	// Its own copy of the id: m.ID is a piece of the decoded record
	// (inbound's decoders), which a key kept in the cache would keep
	// alive whole, up to about 4 KB with a hostile Subject, From and
	// Message-ID, for each of maxRated entries.
	c.rated.Add(strings.Clone(m.ID), v)
	return v
}

// senderOf is the author the rate limit counts: the author's address (or
// the envelope sender when there is no one author) together with the
// connecting IP, so that whoever forges a customer's From from elsewhere
// exhausts their own budget, not the customer's.
func senderOf(m inbound.Meta, msg *mailmsg.Message) string {
	addr := strings.ToLower(m.Envelope.MailFrom)
	if msg.Author != nil {
		addr = msg.Author.Addr
	}
	return addr + " " + m.Envelope.RemoteIP
}

// rateKey names the conversation a message is counted against. Until
// threading names conversations in the pipeline, the envelope recipient
// stands in for it: a reply+TOKEN address is one conversation and one
// recipient, and a support address is where an auto-responder ping-pong
// (each reply opening a new ticket) would show.
func rateKey(m inbound.Meta) string {
	if len(m.Envelope.Rcpts) == 0 {
		return ""
	}
	return "rcpt:" + strings.ToLower(m.Envelope.Rcpts[0])
}

// describe says what the verdict leads to, for the log.
func describe(v loopguard.Verdict) string {
	switch {
	case v.Notify():
		return "stored; may notify"
	case v.Bounce != nil && v.Bounce.Recipient != "":
		b := v.Bounce
		s := "bounce recorded: " + b.Recipient
		if b.Status != "" {
			s += " " + b.Status
		}
		if b.OriginalMessageID != "" {
			s += " for " + b.OriginalMessageID
		}
		return s + "; no notification"
	default:
		return "stored; no notification or automatic email (" + string(v.Class) + ")"
	}
}

// LoadOrCreateSecret reads a hex secret from path, making a random 32-byte
// one (written atomically, 0600) when the file does not exist.
func LoadOrCreateSecret(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) < 16 {
			return nil, fmt.Errorf("%s: not a hex secret of at least 16 bytes", path)
		}
		return k, nil
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := store.WriteFileAtomic(path, []byte(hex.EncodeToString(k)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return k, nil
}
