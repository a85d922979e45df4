package fetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/textproto"
	"sort"
	"strings"
	"sync"

	"github.com/emersion/go-imap"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/store"
)

// bodyBatchBytes bounds the bytes of one UID FETCH of bodies (go-imap
// holds each literal in memory).
const bodyBatchBytes = 8 << 20

// errBusy: the inbound backlog is full; the rest waits for the next sync.
var errBusy = errors.New("inbound backlog full")

func (f *Fetcher) maxBytes() int64 {
	if f.MaxMessageBytes > 0 {
		return f.MaxMessageBytes
	}
	return inbound.DefaultLimits.MaxMessageBytes
}

func (f *Fetcher) batch() int {
	if f.Batch > 0 {
		return f.Batch
	}
	return DefaultBatch
}

// sync stores what is new in the selected folder, oldest first, and
// returns how many messages it stored.
func (f *Fetcher) sync(ctx context.Context, cn *conn, m *Mailbox, fence uint64, log *slog.Logger) (int, error) {
	// A session sees new mail only once the server has announced it
	// (EXISTS, sent at the end of a command): NOOP makes it do so, or a
	// SEARCH may miss what arrived since the last command.
	if err := cn.c.Noop(); err != nil {
		return 0, fmt.Errorf("noop: %w", err)
	}
	mb := cn.c.Mailbox()
	if mb == nil {
		return 0, errors.New("no folder selected")
	}
	uv := mb.UidValidity
	mark, err := f.mark(ctx, m, uv, log)
	if err != nil {
		return 0, err
	}
	// First what an earlier run stored but did not finish on the server.
	left, err := pending(ctx, f.DB, m.Name, uv)
	if err != nil {
		return 0, err
	}
	if len(left) > 0 {
		log.Info("finishing messages stored before a stop", "count", len(left), "after", m.After.String())
		if err := f.after(ctx, cn, m, uv, left); err != nil {
			return 0, err
		}
	}
	crit := imap.NewSearchCriteria()
	crit.Uid = new(imap.SeqSet)
	crit.Uid.AddRange(max(mark.Next, 1), 0) // n:* (0 is *)
	if mark.Next <= 1 && !m.Since.IsZero() {
		crit.Since = m.Since
	}
	uids, err := cn.c.UidSearch(crit)
	if err != nil {
		return 0, fmt.Errorf("search: %w", err)
	}
	// "n:*" always matches the last message, even below n.
	kept := uids[:0]
	for _, u := range uids {
		if u >= mark.Next {
			kept = append(kept, u)
		}
	}
	uids = kept
	sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	if len(uids) > 0 {
		f.setStatus(m.Name, func(s *Status) { s.State = "fetching" })
	}
	stored := 0
	for start := 0; start < len(uids); start += f.batch() {
		end := min(start+f.batch(), len(uids))
		n, err := f.fetchBatch(ctx, cn, m, uv, fence, uids[start:end], log)
		stored += n
		if errors.Is(err, errBusy) {
			log.Warn("inbound backlog full: the rest is fetched later")
			return stored, nil
		}
		if err != nil {
			return stored, err
		}
	}
	return stored, nil
}

// mark reads the folder's mark; a new UIDVALIDITY starts it over (the
// server renumbered the folder: what was stored already is recognised by
// the inbound dedupe).
func (f *Fetcher) mark(ctx context.Context, m *Mailbox, uv uint32, log *slog.Logger) (Mark, error) {
	var mark Mark
	err := f.DB.Update(ctx, func(tx *store.Tx) error {
		var err error
		if mark, err = getMark(tx, m.Name); err != nil || mark.UIDValidity == uv {
			return err
		}
		if mark.UIDValidity != 0 {
			log.Warn("UIDVALIDITY changed: reading the folder again; messages already stored are recognised by Message-ID and content",
				"old", mark.UIDValidity, "new", uv)
		}
		mark = Mark{UIDValidity: uv, Next: 1, Reset: f.Clock.Now()}
		if err := forgetOther(tx, m.Name, uv); err != nil {
			return err
		}
		return putMark(tx, m.Name, mark)
	})
	return mark, err
}

// storeAtOnce is how many messages of a group are stored at once: their
// commits share fsyncs (group commit) while keeping the mailbox's order.
const storeAtOnce = 16

// fetchBatch stores one batch of UIDs (ascending), moves the mark past
// those settled (stored or set aside, without a gap), then does the
// "after" for those stored.
func (f *Fetcher) fetchBatch(ctx context.Context, cn *conn, m *Mailbox, uv uint32, fence uint64, uids []uint32, log *slog.Logger) (int, error) {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	sizes := map[uint32]uint32{}
	err := fetchAll(cn, set, []imap.FetchItem{imap.FetchUid, imap.FetchRFC822Size}, func(msg *imap.Message) {
		sizes[msg.Uid] = msg.Size
	})
	if err != nil {
		return 0, fmt.Errorf("fetch sizes: %w", err)
	}
	if f.beforeBodies != nil {
		f.beforeBodies(uids)
	}
	var done []uint32  // stored (or found stored) in this batch
	var settled uint32 // every UID of the batch up to this one is settled
	var firstErr error
	section := &imap.BodySectionName{Peek: true}
	for i := 0; i < len(uids) && firstErr == nil; {
		// A group of bodies bounded by bytes; too large ones alone.
		var group []uint32
		var bytesIn int64
		for ; i < len(uids); i++ {
			sz := int64(sizes[uids[i]])
			if len(group) > 0 && bytesIn+sz > bodyBatchBytes {
				break
			}
			group = append(group, uids[i])
			bytesIn += sz
		}
		gset := new(imap.SeqSet)
		want := 0
		for _, u := range group {
			if sz, ok := sizes[u]; ok && int64(sz) <= f.maxBytes() {
				gset.AddNum(u)
				want++
			}
		}
		bodies := map[uint32][]byte{}
		if want > 0 {
			err := fetchAll(cn, gset, []imap.FetchItem{imap.FetchUid, section.FetchItem()}, func(msg *imap.Message) {
				// An empty body is a message expunged by another session
				// that this one has not been told of yet (Dovecot answers
				// so): nothing to store.
				if lit := msg.GetBody(section); lit != nil {
					var b bytes.Buffer
					if _, err := b.ReadFrom(lit); err == nil && b.Len() > 0 {
						bodies[msg.Uid] = b.Bytes()
					}
				}
			})
			if err != nil {
				firstErr = fmt.Errorf("fetch messages: %w", err)
				break
			}
		}
		errs, stored, err := f.storeGroup(ctx, cn, m, uv, fence, group, sizes, bodies, log)
		if err != nil {
			firstErr = err
		}
		for k, u := range group {
			if errs[k] != nil {
				if firstErr == nil {
					firstErr = errs[k]
				}
				continue
			}
			if stored[k] {
				done = append(done, u)
				if f.afterStore != nil {
					if err := f.afterStore(ctx, m, u); err != nil {
						return len(done), err // a crash: the server is not told
					}
				}
			}
			if firstErr == nil {
				settled = u
			}
		}
	}
	if settled > 0 {
		err := f.DB.Update(ctx, func(tx *store.Tx) error {
			if err := checkLease(tx, m.Name, f.Owner, fence, f.Clock.Now()); err != nil {
				return err
			}
			return advance(tx, m.Name, uv, settled)
		})
		firstErr = errors.Join(firstErr, err)
	}
	if errors.Is(firstErr, ErrLeaseLost) {
		return len(done), firstErr // another node finishes from the records
	}
	if len(done) > 0 {
		firstErr = errors.Join(firstErr, f.after(ctx, cn, m, uv, done))
	}
	return len(done), firstErr
}

// storeGroup stores a group's messages, several at once with their
// commits in UID order, and returns each one's error (nil: stored, found
// stored, or set aside as expunged or too large) and whether it is
// stored.
func (f *Fetcher) storeGroup(ctx context.Context, cn *conn, m *Mailbox, uv uint32, fence uint64, group []uint32,
	sizes map[uint32]uint32, bodies map[uint32][]byte, log *slog.Logger) ([]error, []bool, error) {
	errs := make([]error, len(group))
	stored := make([]bool, len(group))
	sem := make(chan struct{}, storeAtOnce)
	var wg sync.WaitGroup
	prev := make(chan struct{})
	close(prev)
	for k, u := range group {
		sz, exists := sizes[u]
		body, got := bodies[u]
		switch {
		case !exists || (!got && int64(sz) <= f.maxBytes()):
			// Expunged by someone else meanwhile: nothing to store (were it
			// still there, it stays on the server, untouched).
			log.Info("message gone before its body was fetched: skipped", "uid", u)
			continue
		case int64(sz) > f.maxBytes() || int64(len(body)) > f.maxBytes():
			metricMessages.WithLabelValues(m.Name, "too_large").Inc()
			log.Warn("message too large: left on the server", "uid", u, "size", sz)
			errs[k] = f.refuse(ctx, m, uv, fence, u, fmt.Sprintf("too large: %d bytes (limit %d); left on the server", sz, f.maxBytes()))
			continue
		}
		if err := f.limiter(m).wait(ctx, f.Clock); err != nil {
			wg.Wait()
			return errs, stored, err
		}
		sem <- struct{}{}
		wait, queued := prev, make(chan struct{})
		prev = queued
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var once sync.Once
			signal := func() { once.Do(func() { close(queued) }) }
			defer signal() // failed before its commit: the next goes on
			stored[k], errs[k] = f.store(ctx, cn, m, uv, fence, u, body, log, func() { <-wait }, signal)
		}()
	}
	wg.Wait()
	return errs, stored, nil
}

// fetchAll runs a UID FETCH and hands each message to fn.
func fetchAll(cn *conn, set *imap.SeqSet, items []imap.FetchItem, fn func(*imap.Message)) error {
	ch := make(chan *imap.Message, 16)
	done := make(chan error, 1)
	go func() { done <- cn.c.UidFetch(set, items, ch) }()
	for msg := range ch {
		fn(msg)
	}
	return <-done
}

// store commits one message through the inbound path, with its record
// in the same commit; before and queued keep the commits of a group in
// order. It tells whether the message is stored (false: refused, and
// journaled as such).
func (f *Fetcher) store(ctx context.Context, cn *conn, m *Mailbox, uv uint32, fence uint64, uid uint32, body []byte, log *slog.Logger, before, queued func()) (bool, error) {
	proto := "IMAP"
	if cn.tls {
		proto = "IMAPS"
	}
	env := inbound.Envelope{MailFrom: returnPath(body), Rcpts: []string{m.To}, Helo: m.Host, Proto: proto}
	via := fmt.Sprintf("IMAP %s: %s uid %d (uidvalidity %d)", m.Name, m.Folder, uid, uv)
	rc, err := f.Receiver.ReceiveWith(ctx, env, bytes.NewReader(body), inbound.With{
		Via: via,
		Also: func(tx *store.Tx, rc inbound.Receipt) error {
			if err := checkLease(tx, m.Name, f.Owner, fence, f.Clock.Now()); err != nil {
				return err
			}
			return putRecord(tx, m.Name, uv, uid, rc.ID, f.Clock.Now())
		},
		Reads:  []store.UpdateOption{store.Reads(bucketLease, []byte(m.Name)), store.Queued(queued)},
		Before: before,
	})
	switch {
	case errors.Is(err, inbound.ErrBusy):
		return false, errBusy
	case errors.Is(err, inbound.ErrTooLarge), errors.Is(err, inbound.ErrHeaderTooLarge):
		metricMessages.WithLabelValues(m.Name, "too_large").Inc()
		log.Warn("message refused: left on the server", "uid", uid, "err", err)
		return false, f.refuse(ctx, m, uv, fence, uid, err.Error()+"; left on the server")
	case err != nil:
		if errors.Is(err, ErrLeaseLost) {
			return false, ErrLeaseLost
		}
		return false, fmt.Errorf("store uid %d: %w", uid, err)
	}
	result := "stored"
	if rc.Duplicate {
		result = "duplicate"
	}
	metricMessages.WithLabelValues(m.Name, result).Inc()
	log.Debug("message "+result, "uid", uid, "id", rc.ID, "message_id", rc.MessageID)
	return true, nil
}

// refuse journals a message that is not stored (too large), left on the
// server; the mark moves past it with its batch, so it is never fetched
// again. The entry is marked for operators (journal Attention): the
// console's log flags it and `deskmail inbound list --attention` lists
// it, so the message waiting in the mailbox is not forgotten.
func (f *Fetcher) refuse(ctx context.Context, m *Mailbox, uv uint32, fence uint64, uid uint32, reason string) error {
	now := f.Clock.Now()
	return f.DB.Update(ctx, func(tx *store.Tx) error {
		if err := checkLease(tx, m.Name, f.Owner, fence, now); err != nil {
			return err
		}
		return journal.Append(tx, &journal.Entry{Time: now, Direction: journal.In, Status: journal.StatusRejected,
			Reason: reason, Attention: reason, EnvelopeTo: []string{m.To}, Proto: "IMAP",
			Via: fmt.Sprintf("IMAP %s: %s uid %d (uidvalidity %d)", m.Name, m.Folder, uid, uv)})
	}, journal.AppendReads()...)
}

// after does the configured "after" for stored messages on the server,
// then forgets their records. UIDs someone else expunged meanwhile are
// simply not there any more: the server answers OK.
func (f *Fetcher) after(ctx context.Context, cn *conn, m *Mailbox, uv uint32, uids []uint32) error {
	set := new(imap.SeqSet)
	set.AddNum(uids...)
	var err error
	switch m.After.Kind {
	case "move":
		err = cn.c.UidMove(set, m.After.Folder)
	case "seen":
		err = cn.c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []interface{}{imap.SeenFlag}, nil)
	case "delete":
		if err = cn.c.UidStore(set, imap.FormatFlagsOp(imap.AddFlags, true), []interface{}{imap.DeletedFlag}, nil); err == nil {
			err = cn.c.Expunge(nil)
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", m.After, err)
	}
	return forget(ctx, f.DB, m.Name, uv, uids)
}

// returnPath is the envelope sender the final delivery recorded in the
// Return-Path field ("" for the null path <> of a bounce), or the From
// address when there is none.
func returnPath(raw []byte) string {
	end := bytes.Index(raw, []byte("\r\n\r\n"))
	if end < 0 {
		end = bytes.Index(raw, []byte("\n\n"))
	}
	if end < 0 {
		end = len(raw)
	}
	tp := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(raw[:end:end], "\r\n\r\n"...))))
	h, _ := tp.ReadMIMEHeader()
	if rp := h.Values("Return-Path"); len(rp) > 0 {
		v := strings.TrimSpace(rp[0])
		if v == "<>" {
			return ""
		}
		if a, err := mail.ParseAddress(v); err == nil {
			return a.Address
		}
		return strings.Trim(v, "<> ")
	}
	if a, err := mail.ParseAddress(h.Get("From")); err == nil {
		return a.Address
	}
	return ""
}
