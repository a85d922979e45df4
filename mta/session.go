package mta

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/deskmail/deskmail/inbound"
)

// session is one client conversation. go-smtp calls its methods from the
// connection's goroutine only.
type session struct {
	s     *Server
	conn  *deadlineConn // nil when the listener is not ours (tests over net.Pipe)
	ip    string
	helo  string
	proto string
	// log is the session's logger, made at its first line (logger): at
	// the default level an accepted email logs nothing, and a logger
	// With attributes formats them when made.
	log *slog.Logger

	from    string
	hasFrom bool
	rcpts   []string

	// errors counts refusals in this session: a client that keeps being
	// refused (a relay probe, a dictionary attack) is journaled only for
	// its first journalLimit refusals and cut off after hardErrorLimit,
	// like Postfix's smtpd_hard_error_limit.
	errors int
}

const (
	journalLimit   = 10
	hardErrorLimit = 20
)

var errTooManyErrors = &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "Too many errors, closing connection"}

// refused counts a refusal; it says whether the session must end.
func (ss *session) refused() bool {
	ss.errors++
	if ss.errors < hardErrorLimit {
		return false
	}
	// Let go-smtp write our 421, then fail its next read so it closes.
	if ss.conn != nil {
		ss.conn.cutOff()
	}
	ss.logger().Warn("too many refusals, closing session", "errors", ss.errors)
	return true
}

var (
	errRelayDenied = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relaying denied"}
	errBadAddress  = &smtp.SMTPError{Code: 501, EnhancedCode: smtp.EnhancedCode{5, 1, 3}, Message: "Bad recipient address syntax"}
	errTooManyRcpt = &smtp.SMTPError{Code: 452, EnhancedCode: smtp.EnhancedCode{4, 5, 3}, Message: "Too many recipients"}
	errTooLarge    = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message too big"}
	errHeaderLarge = &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "Message header too big"}
	errTemporary   = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary failure, try again later"}
	errLineTooLong = &smtp.SMTPError{Code: 500, EnhancedCode: smtp.EnhancedCode{5, 4, 0}, Message: "Line too long"}
	errReadFailed  = &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 4, 2}, Message: "Error reading message, try again"}
)

// logger is the session's logger: the server's, with the session's id,
// address and protocol.
func (ss *session) logger() *slog.Logger {
	if ss.log == nil {
		var idb [6]byte
		_, _ = rand.Read(idb[:])
		ss.log = ss.s.log.With("session", hex.EncodeToString(idb[:]), "remote", ss.ip, "proto", ss.proto)
	}
	return ss.log
}

// enabled tells whether the log takes lines of level l: the lines of
// every accepted email are built only then.
func (ss *session) enabled(l slog.Level) bool { return ss.s.log.Enabled(context.Background(), l) }

func (ss *session) envelope() inbound.Envelope {
	return inbound.Envelope{MailFrom: ss.from, Rcpts: append([]string(nil), ss.rcpts...),
		RemoteIP: ss.ip, Helo: ss.helo, Proto: ss.proto}
}

func (ss *session) setBusy(b bool) {
	if ss.conn != nil {
		ss.conn.busy.Store(b)
	}
}

// busyError is the answer while the backlog of unprocessed emails is over
// its bound: 451 4.3.2 "system not accepting network messages" (RFC 3463),
// so the sender keeps the email and tries again later.
func busyError() *smtp.SMTPError {
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 2},
		Message: "Too many emails waiting to be processed here; try again later"}
}

// busy asks the receiver whether it takes new mail.
func (ss *session) busy() error {
	err := ss.s.recv.Busy()
	if err != nil {
		metricMessages.WithLabelValues("tempfail", "backlog").Inc()
		logBusy(ss.logger(), err)
	}
	return err
}

// lastBusyLog keeps the backpressure warning to one line per 10 seconds:
// under backpressure every sender is refused, and the metric counts them.
var lastBusyLog atomic.Int64

func logBusy(log *slog.Logger, err error) {
	now := time.Now().UnixNano()
	last := lastBusyLog.Load()
	if now-last < int64(10*time.Second) || !lastBusyLog.CompareAndSwap(last, now) {
		return
	}
	log.Warn("mail deferred with 451 4.3.2: backlog over its bound (logged once per 10s; see deskmail_smtp_messages_total{reason=\"backlog\"})", "reason", err.Error())
}

func (ss *session) Mail(from string, opts *smtp.MailOptions) error {
	if err := ss.busy(); err != nil {
		return busyError()
	}
	if opts != nil && opts.Size > ss.s.cfg.MaxMessageBytes {
		ss.reject("too_large", "declared size over the limit")
		return errTooLarge
	}
	ss.from, ss.hasFrom, ss.rcpts = from, true, nil
	ss.setBusy(true)
	return replySenderOK
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	for _, r := range ss.rcpts {
		if strings.EqualFold(r, to) {
			return replyRecipientOK // the same recipient twice is one recipient
		}
	}
	if !ss.s.domains.Accepts(to) {
		env := ss.envelope()
		env.Rcpts = []string{to}
		ss.journal(env, "relaying denied for <"+to+">")
		metricMessages.WithLabelValues("rejected", "relay_denied").Inc()
		ss.logger().Info("recipient refused", "rcpt", to, "reason", "relaying denied")
		if ss.refused() {
			return errTooManyErrors
		}
		if !strings.Contains(to, "@") {
			return errBadAddress
		}
		return errRelayDenied
	}
	if len(ss.rcpts) >= ss.s.cfg.MaxRecipients {
		ss.reject("too_many_recipients", "too many recipients")
		if ss.refused() {
			return errTooManyErrors
		}
		return errTooManyRcpt
	}
	if err := ss.knownRecipient(to); err != nil {
		return err
	}
	ss.rcpts = append(ss.rcpts, to)
	return replyRecipientOK
}

// knownRecipient refuses, with 550 5.1.1, an address of our domains that
// takes no mail, and logs and journals why.
func (ss *session) knownRecipient(to string) error {
	p := ss.s.cfg.Recipients
	if p == nil {
		return nil
	}
	kind, err := p.Check(to)
	if err == nil {
		if ss.enabled(slog.LevelDebug) {
			ss.logger().Debug("recipient accepted", "rcpt", to, "kind", kind)
		}
		return nil
	}
	env := ss.envelope()
	env.Rcpts = []string{to}
	ss.journal(env, "unknown recipient <"+to+">: "+err.Error())
	metricMessages.WithLabelValues("rejected", "unknown_recipient").Inc()
	ss.logger().Info("recipient refused", "rcpt", to, "reason", err.Error())
	if ss.refused() {
		return errTooManyErrors
	}
	return errNoSuchUser
}

func (ss *session) Data(r io.Reader) error {
	_, err := ss.deliver(r)
	return err
}

// LMTPData answers per recipient (RFC 2033). All recipients share one
// stored copy, so they succeed or fail together.
func (ss *session) LMTPData(r io.Reader, status smtp.StatusCollector) error {
	_, err := ss.deliver(r)
	for _, rcpt := range ss.rcpts {
		status.SetStatus(rcpt, err)
	}
	return err
}

func (ss *session) deliver(r io.Reader) (inbound.Receipt, error) {
	env := ss.envelope()
	// The server's context: Shutdown cancels it when it cuts the
	// sessions still running off.
	rc, err := ss.s.recv.Receive(ss.s.ctx, env, dataReader{checkCRLF(r)})
	switch {
	case err == nil:
		metricCommitWait.Observe(rc.CommitWait.Seconds())
	case errors.Is(err, errBareLFData):
		ss.reject("bare_lf", "bare LF in the message data (lines must end with CRLF)")
		return rc, errBareLF
	case errors.Is(err, inbound.ErrTooLarge):
		ss.reject("too_large", "message over the size limit")
		return rc, errTooLarge
	case errors.Is(err, inbound.ErrHeaderTooLarge):
		ss.reject("header_too_large", "message header over the size limit")
		return rc, errHeaderLarge
	case errors.Is(err, smtp.ErrTooLongLine):
		ss.reject("line_too_long", "line over the length limit")
		return rc, errLineTooLong
	case errors.Is(err, inbound.ErrBusy):
		metricMessages.WithLabelValues("tempfail", "backlog").Inc()
		logBusy(ss.logger(), err)
		return rc, busyError()
	default:
		var te *inbound.TempError
		if errors.As(err, &te) {
			metricMessages.WithLabelValues("tempfail", "store_error").Inc()
			ss.logger().Error("message not stored", "err", err)
			return rc, errTemporary
		}
		metricMessages.WithLabelValues("tempfail", "read_error").Inc()
		ss.logger().Warn("message not read", "err", err)
		return rc, errReadFailed
	}
	if rc.Duplicate {
		metricDuplicate.Inc()
		if ss.enabled(slog.LevelInfo) {
			ss.logger().Info("duplicate message acknowledged, not stored again", "msg", rc.ID, "message_id", rc.MessageID, "size", rc.Size)
		}
		return rc, &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: already have it as " + rc.ID}
	}
	metricAccepted.Inc()
	metricSize.Observe(float64(rc.Size))
	if ss.enabled(slog.LevelInfo) {
		ss.logger().Info("message stored", "msg", rc.ID, "message_id", rc.MessageID, "from", env.MailFrom, "rcpts", len(env.Rcpts), "size", rc.Size)
	}
	return rc, &smtp.SMTPError{Code: 250, EnhancedCode: smtp.EnhancedCode{2, 0, 0}, Message: "OK: queued as " + rc.ID}
}

// dataReader turns go-smtp's size and bare-LF errors into ours, so the
// receiver stops the same way for every entry point.
type dataReader struct{ r io.Reader }

func (d dataReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) {
			err = inbound.ErrTooLarge
		} else if errors.Is(err, smtp.ErrBareLF) {
			err = errBareLFData
		}
	}
	return n, err
}

// bareLFChecker is go-smtp's DATA reader (patch 6 of our copy).
type bareLFChecker interface{ RejectsBareLF() bool }

// checkCRLF is r, with the bare-LF check of crlfReader unless r makes it
// already: go-smtp's DATA reader with Server.RejectBareLF does, BDAT's
// chunks do not.
func checkCRLF(r io.Reader) io.Reader {
	if c, ok := r.(bareLFChecker); ok && c.RejectsBareLF() {
		return r
	}
	return &crlfReader{r: r}
}

func (ss *session) reject(metricReason, reason string) {
	metricMessages.WithLabelValues("rejected", metricReason).Inc()
	ss.logger().Info("message refused", "reason", reason)
	ss.journal(ss.envelope(), reason)
}

func (ss *session) journal(env inbound.Envelope, reason string) {
	if ss.errors >= journalLimit {
		return // counted in the metrics, not written again and again
	}
	if err := ss.s.recv.Reject(ss.s.ctx, env, reason); err != nil {
		ss.logger().Warn("journal refusal", "err", err)
	}
}

func (ss *session) Reset() {
	ss.from, ss.hasFrom, ss.rcpts = "", false, nil
	ss.setBusy(false)
}

func (ss *session) Logout() error {
	if ss.conn != nil && ss.conn.pastDeadline() {
		metricMessages.WithLabelValues("rejected", "session_timeout").Inc()
		ss.logger().Info("session deadline reached")
		if ss.hasFrom {
			ss.journal(ss.envelope(), "session deadline reached before the message was complete")
		}
	}
	ss.setBusy(false)
	return nil
}
