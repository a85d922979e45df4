package inbound

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/store"
)

// Receiver stores inbound messages.
type Receiver struct {
	DB       *store.DB
	Clock    clock.Clock
	Hostname string // names this host in the Received header it adds
	Limits   Limits
	// Stored, if set, is called after a new message is committed.
	Stored func(id string)
	// Backlog, if set, refuses new messages (ErrBusy) while too many
	// stored ones wait to be processed, and counts the ones stored.
	Backlog *Backlog
	// Activity, if set, counts the accepts in progress of callers with a
	// client waiting (With.Via empty), for the pipeline to yield to.
	Activity *Activity
}

// Busy returns a *BusyError (wrapping ErrBusy) while the backlog is over
// its bound; the SMTP session asks before MAIL FROM so a sender is told
// before it sends the data.
func (r *Receiver) Busy() error { return r.Backlog.Admit() }

func (r *Receiver) limits() Limits {
	l, d := r.Limits, DefaultLimits
	l.MaxMessageBytes = cmp.Or(max(l.MaxMessageBytes, 0), d.MaxMessageBytes)
	l.MaxHeaderBytes = cmp.Or(max(l.MaxHeaderBytes, 0), d.MaxHeaderBytes)
	l.SpillBytes = cmp.Or(max(l.SpillBytes, 0), d.SpillBytes)
	return l
}

// Receive reads one message from data and commits it. It returns only after
// the message is durable (or with an error, and then nothing was stored).
// Errors are ErrTooLarge, ErrHeaderTooLarge, ErrNoRecipients, a read error
// of data, or a *TempError.
func (r *Receiver) Receive(ctx context.Context, env Envelope, data io.Reader) (Receipt, error) {
	return r.ReceiveWith(ctx, env, data, With{})
}

// With is what a caller other than a protocol session adds to a Receive:
// a note for the journal entry and writes of its own in the same commit.
type With struct {
	// Via says where the message came from, in the journal ("IMAP
	// support: INBOX uid 42").
	Via string
	// Also, if set, runs in the transaction that stores the message (or
	// finds it a duplicate: rc.Duplicate and rc.ID, the stored one's),
	// so what it records is durable exactly when the message is; its
	// error rolls the message back too. Like any store.Update function it
	// may run more than once.
	Also func(tx *store.Tx, rc Receipt) error
	// Reads are keys Also reads (store.Reads), fetched with the batch,
	// and other options of the commit (store.Queued).
	Reads []store.UpdateOption
	// Before, if set, is called right before the commit is queued (the
	// message read, hashed and spooled): a caller storing several
	// messages at once waits there for the previous one's store.Queued,
	// so their commits keep its order and still share an fsync.
	Before func()
}

// ReceiveWith is Receive with w's additions.
func (r *Receiver) ReceiveWith(ctx context.Context, env Envelope, data io.Reader, w With) (Receipt, error) {
	if len(env.Rcpts) == 0 {
		return Receipt{}, ErrNoRecipients
	}
	if err := r.Backlog.Admit(); err != nil {
		drain(data)
		return Receipt{}, err
	}
	if w.Via == "" {
		r.Activity.begin()
		defer r.Activity.end()
	}
	lim := r.limits()
	now := r.Clock.Now()
	id := store.NewID(now)

	rb := receiveBufPool.Get().(*receiveBuf)
	defer rb.put()
	br := rb.br
	br.Reset(io.LimitReader(data, lim.MaxMessageBytes+1))
	// The message's buffer takes the trace field and what the first read
	// brought (a message of a few KB: all of it) in one allocation, where
	// it grew by doubling, copying, three or four times.
	_, _ = br.Peek(1) // an error comes again at the next read
	trace := receivedHeader(make([]byte, 0, receivedRoom+min(br.Buffered(), lim.SpillBytes)), env, r.Hostname, id, now)
	buf := bytes.NewBuffer(trace)
	hdrLen, err := readHeaderBlock(br, buf, lim.MaxHeaderBytes)
	if err != nil {
		drain(data)
		return Receipt{}, err
	}
	header := buf.Bytes()[len(trace) : len(trace)+hdrLen]
	h := parseHeader(header)
	headerSum := sha256.Sum256(header)

	// The body: hash it, buffer it, spill it to the spool when it grows.
	bodyHash := sha256.New()
	var spool *store.SpoolWriter
	size := int64(hdrLen)
	if size > lim.MaxMessageBytes {
		drain(data)
		return Receipt{}, ErrTooLarge
	}
	chunk := rb.chunk
	for {
		n, rerr := br.Read(chunk)
		if n > 0 {
			size += int64(n)
			if size > lim.MaxMessageBytes {
				if spool != nil {
					spool.Abort()
				}
				drain(data)
				return Receipt{}, ErrTooLarge
			}
			bodyHash.Write(chunk[:n])
			if spool == nil && buf.Len()+n > lim.SpillBytes {
				if spool, err = r.DB.NewSpoolWriter(); err != nil {
					return Receipt{}, &TempError{err}
				}
				if _, err := spool.Write(buf.Bytes()); err != nil {
					spool.Abort()
					return Receipt{}, &TempError{err}
				}
				buf = &bytes.Buffer{} // let the buffered copy go
			}
			if spool != nil {
				if _, err := spool.Write(chunk[:n]); err != nil {
					spool.Abort()
					return Receipt{}, &TempError{err}
				}
			} else {
				buf.Write(chunk[:n])
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			if spool != nil {
				spool.Abort()
			}
			return Receipt{}, fmt.Errorf("read message: %w", rerr)
		}
	}

	bodySum := bodyHash.Sum(nil)
	meta := Meta{
		ID: id, Received: now, Envelope: env, Size: size,
		MessageID: h.messageID, From: h.from, Subject: h.subject,
		BodyHash: hex.EncodeToString(bodySum),
		Spooled:  spool != nil,
	}
	keys := OrderKeys(env, h.msg)
	dkey := dedupeKey(h.messageID, bodySum, headerSum[:], env.Rcpts)
	if spool != nil {
		if err := spool.Commit(id); err != nil {
			return Receipt{}, &TempError{err}
		}
	}
	rc := Receipt{ID: id, MessageID: h.messageID, Size: size}
	if w.Before != nil {
		w.Before()
	}
	// The backlog's refresh must not count this commit twice, nor lose
	// it (Backlog.Load): it runs between Begin and Done.
	r.Backlog.Begin(size)
	defer r.Backlog.Done(size)
	commitStart := time.Now()
	err = r.DB.Update(ctx, func(tx *store.Tx) error {
		rc.Duplicate = false
		if v := tx.Get(bucketDedupe, dkey); v != nil {
			rc.Duplicate, rc.ID = true, string(v)
			if w.Also != nil {
				return w.Also(tx, rc)
			}
			return nil
		}
		rc.ID = id
		e := &journal.Entry{
			Time: now, Direction: journal.In, Status: journal.StatusReceived,
			MessageID: h.messageID, StoredID: id,
			EnvelopeFrom: env.MailFrom, EnvelopeTo: env.Rcpts,
			From: h.from, Subject: h.subject, Size: size,
			RemoteIP: env.RemoteIP, Proto: env.Proto, Via: clip(w.Via),
		}
		if err := journal.Append(tx, e); err != nil {
			return err
		}
		meta.JournalID, rc.JournalID = e.ID, e.ID
		// id is a fresh store.NewID: its record and raw bytes are new
		// (on PostgreSQL plain INSERTs, not upserts).
		tx.Absent(bucketMeta, []byte(id))
		tx.Absent(bucketRaw, []byte(id))
		v, err := encodeMeta(make([]byte, 0, 256), &meta)
		if err != nil {
			return err
		}
		if err := tx.Put(bucketMeta, []byte(id), v); err != nil {
			return err
		}
		if spool == nil {
			if err := tx.Put(bucketRaw, []byte(id), buf.Bytes()); err != nil {
				return err
			}
		}
		if err := newPending(tx, id, size, keys, now); err != nil {
			return err
		}
		if err := tx.Put(bucketDedupe, dkey, []byte(id)); err != nil {
			return err
		}
		// Its key is written only with the dedupe key, read absent
		// above, and pruned with it: new too (on PostgreSQL a plain
		// INSERT, not an upsert).
		tx.Absent(bucketDedupeTime, timeKey(now, dkey))
		if err := tx.Put(bucketDedupeTime, timeKey(now, dkey), nil); err != nil {
			return err
		}
		if w.Also != nil {
			return w.Also(tx, rc)
		}
		return nil
	}, acceptOpts(r.DB, dkey, keys, w)...)
	rc.CommitWait = time.Since(commitStart)
	if err != nil {
		if spool != nil {
			_ = r.DB.RemoveSpool(id)
		}
		return Receipt{}, &TempError{err}
	}
	if rc.Duplicate {
		if spool != nil {
			_ = r.DB.RemoveSpool(id)
		}
		return rc, nil
	}
	r.Backlog.Add(size)
	if r.Stored != nil {
		r.Stored(id)
	}
	return rc, nil
}

// AcceptLocks is what storing one email serialises on, on every node:
// its dedupe key, exclusively (store.Locks), so that two copies of one
// email arriving at two nodes at once are stored once; and each of its
// ordering keys, shared (store.SharedLocks): emails of one sender or one
// conversation are stored side by side, but the pipeline's commit of an
// email waits for every accept of its keys still in flight (a barrier,
// store.Barriers: their 250-order numbers may be smaller) and its
// ordering check then sees them; an accept that begins later draws a
// larger number. Every other key an accept writes is new
// and its own (the stored id, a fresh journal key).
func AcceptLocks(dkey []byte, orderKeys []string) []store.UpdateOption {
	names := make([]string, 0, len(orderKeys))
	for _, k := range orderKeys {
		names = append(names, OrderLock(k))
	}
	return []store.UpdateOption{store.Locks("dedupe:" + string(dkey)), store.SharedLocks(names...)}
}

// acceptOpts are the options of an accept's commit. A caller's own
// writes in it (With.Also: the IMAP fetcher's mailbox lease and records)
// declare no locks, so such an accept runs alone (the writer lock
// exclusive) rather than promise what its writes are covered by. bbolt
// (one process, one writer) reads, draws and locks nothing ahead: only
// the caller's options (store.Queued) are kept, and the lock names, 12%
// of an accept's allocations, are not built.
func acceptOpts(db *store.DB, dkey []byte, keys []string, w With) []store.UpdateOption {
	if !db.Shared() {
		return w.Reads
	}
	opts := append(journal.AppendReads(), store.Reads(bucketDedupe, dkey), store.Draws(bucketSeq, 1))
	opts = append(opts, w.Reads...)
	if w.Also == nil {
		opts = append(opts, AcceptLocks(dkey, keys)...)
	}
	return opts
}

// OrderLock is the lock name of one ordering key.
func OrderLock(key string) string { return "order:" + key }

// Reject journals a message or command refused at the protocol level.
func (r *Receiver) Reject(ctx context.Context, env Envelope, reason string) error {
	now := r.Clock.Now()
	return r.DB.Update(ctx, func(tx *store.Tx) error {
		return journal.Append(tx, &journal.Entry{
			Time: now, Direction: journal.In, Status: journal.StatusRejected,
			Reason: clip(reason), EnvelopeFrom: clip(env.MailFrom), EnvelopeTo: env.Rcpts,
			RemoteIP: env.RemoteIP, Proto: env.Proto,
		})
	}, store.Locks())
}

// readHeaderBlock copies the header block, up to and including the empty
// line that ends it, from br to buf, and returns its length. A message
// without a body ends at EOF instead.
func readHeaderBlock(br *bufio.Reader, buf *bytes.Buffer, max int) (int, error) {
	n := 0
	midLine := false // the previous read stopped inside a long line
	for {
		line, err := br.ReadSlice('\n')
		n += len(line)
		if n > max {
			return 0, ErrHeaderTooLarge
		}
		buf.Write(line)
		if err == bufio.ErrBufferFull {
			midLine = true
			continue // a long line: keep reading it
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read message: %w", err)
		}
		// Only a whole line that is empty ends the header, not the "\r\n"
		// tail of a line longer than the read buffer.
		if !midLine && len(line) <= 2 && strings.TrimRight(string(line), "\r\n") == "" {
			return n, nil
		}
		midLine = false
	}
}

// receiveBuf holds the buffers one Receive reads through: 64 KiB per
// message that were allocated (and collected) per message before; the
// message's own bytes are never pooled (bbolt holds them until the commit).
type receiveBuf struct {
	br    *bufio.Reader // over the DATA stream, 32 KiB
	chunk []byte        // the body's read buffer, 32 KiB
}

var receiveBufPool = sync.Pool{New: func() any {
	return &receiveBuf{
		br:    bufio.NewReaderSize(nil, 32<<10),
		chunk: make([]byte, 32<<10),
	}
}}

// put drops the reader's source (the session's stream) and returns rb to
// the pool.
func (rb *receiveBuf) put() {
	rb.br.Reset(nil)
	receiveBufPool.Put(rb)
}

type headerFields struct {
	messageID, from, subject string
	msg                      *mailmsg.Message
}

// parseHeader reads the fields the journal shows, with the one parse of
// the header (mailmsg): what every later step reads too. It never fails.
func parseHeader(b []byte) headerFields {
	msg := mailmsg.ParseHeader(b, mailmsg.Limits{MaxHeaderBytes: len(b) + 1})
	return headerFields{
		messageID: clip(msg.Header.Get("message-id")),
		from:      clip(FromText(msg)),
		subject:   clip(msg.Subject),
		msg:       msg,
	}
}

// FromText is the From an operator is shown: the decoded From field, or
// every From field when there are several (an ambiguous author must not
// look like the first one alone).
func FromText(msg *mailmsg.Message) string {
	var vs []string
	for _, f := range msg.Header {
		if f.Name == "from" {
			vs = append(vs, f.Value)
		}
	}
	return strings.Join(vs, ", ")
}

// dedupeKey names a message for retry detection: the same Message-ID and
// body for the same recipients is the same delivery (a client that lost our
// 250 and sent again). Without a Message-ID the header must match too.
// Recipients are part of the key because a sender may split one message
// into several transactions by recipient; each must be kept.
func dedupeKey(messageID string, bodySum, headerSum []byte, rcpts []string) []byte {
	k := sha256.New()
	k.Write([]byte("v1\x00"))
	k.Write([]byte(messageID))
	k.Write([]byte{0})
	k.Write(bodySum)
	if messageID == "" {
		k.Write(headerSum)
	}
	rs := make([]string, len(rcpts))
	for i, r := range rcpts {
		rs[i] = strings.ToLower(r)
	}
	sort.Strings(rs)
	for _, r := range rs {
		k.Write([]byte{0})
		k.Write([]byte(r))
	}
	return k.Sum(nil)
}

func timeKey(t time.Time, suffix []byte) []byte {
	k := make([]byte, 8, 8+len(suffix))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano()))
	return append(k, suffix...)
}

// PruneDedupe forgets retry-detection keys older than before.
func PruneDedupe(ctx context.Context, db *store.DB, before time.Time) (int, error) {
	return db.PruneBefore(ctx, bucketDedupeTime, timeKey(before, nil), journal.PruneBatch,
		func(tx *store.Tx, k, _ []byte) error { return tx.Delete(bucketDedupe, k[8:]) })
}

// drain consumes what is left of a refused message, so the protocol layer
// can answer; it gives up at the first error.
func drain(r io.Reader) { _, _ = io.Copy(io.Discard, r) }

// receivedRoom is the room a message's buffer keeps for its trace field
// (about 180 bytes with a short HELO name and one recipient).
const receivedRoom = 256

// receivedHeader is the trace field of RFC 5321 section 4.4, appended
// to b (one allocation of b at most: no piece is a string of its own).
func receivedHeader(b []byte, env Envelope, host, id string, t time.Time) []byte {
	b = append(b, "Received: from "...)
	if helo := sanitize(env.Helo, 255); helo != "" {
		b = append(b, helo...)
	} else {
		b = append(b, "unknown"...)
	}
	if env.RemoteIP != "" {
		b = append(b, " (["...)
		b = append(b, sanitize(env.RemoteIP, 64)...)
		b = append(b, "])"...)
	}
	b = append(b, "\r\n\tby "...)
	b = append(b, sanitize(host, 255)...)
	b = append(b, " (deskmail) with "...)
	b = append(b, sanitize(env.Proto, 16)...)
	b = append(b, " id "...)
	b = append(b, id...)
	if len(env.Rcpts) == 1 {
		b = append(b, "\r\n\tfor <"...)
		b = append(b, sanitize(env.Rcpts[0], 320)...)
		b = append(b, '>')
	}
	b = append(b, "; "...)
	b = t.AppendFormat(b, time.RFC1123Z)
	return append(b, "\r\n"...)
}

// sanitize keeps client-supplied text from breaking the header it goes in.
func sanitize(s string, max int) string {
	if !plainTrace(s) {
		s = strings.Map(func(r rune) rune {
			if r < 0x21 || r == 0x7f || r == '(' || r == ')' || r == ';' {
				return -1
			}
			return r
		}, s)
	}
	if len(s) > max {
		s = s[:max]
	}
	return s
}

// plainTrace tells whether s is printable US-ASCII that sanitize leaves
// as it is (an address, a host name: every accepted email's), read a
// byte at a time rather than a rune.
func plainTrace(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c >= 0x7f || c == '(' || c == ')' || c == ';' {
			return false
		}
	}
	return true
}
