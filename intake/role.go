package intake

import (
	"fmt"
	"html"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/queue"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// RoleMailAction starts the journal action of an email sent only to
// postmaster@ or abuse@ (RFC 5321 section 4.5.1, RFC 2142): it is kept
// for operators, never threaded and never dropped. `deskmail log` and the
// console show it; `deskmail log --address postmaster@` finds it.
const RoleMailAction = "kept for operators: mail to "

// roleMail returns the role recipients of an email that went to role
// addresses only ("postmaster@example.test, abuse@example.test"), or "".
// An email that also names another of our addresses is threaded as usual.
func roleMail(env inbound.Envelope) string {
	var roles []string
	for _, r := range env.Rcpts {
		if !threading.IsRole(r) {
			return ""
		}
		roles = append(roles, r)
	}
	return strings.Join(roles, ", ")
}

// keepForOperators is the step's result for an email to role addresses:
// the verdict as usual, and an action that tells operators it is theirs,
// with a warning in the daemon's log.
func (s *InboundStep) keepForOperators(m inbound.Meta, raw []byte, roles string, v loopguard.Verdict, classified func(*store.Tx) error) Result {
	action := RoleMailAction + roles + " (" + string(v.Class) + ")"
	return Result{
		Apply: func(tx *store.Tx) error {
			if err := classified(tx); err != nil {
				return err
			}
			act := action
			if f := s.RoleForward; f != nil {
				j, err := f.forward(tx, m, raw, roles, s.Classify.Clock.Now())
				if err != nil {
					return err
				}
				act += "; a copy sent to " + f.To + " as outgoing email " + j
			}
			return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) {
				e.Action = act
				e.NeedsAttention("mail to " + roles)
			})
		},
		After: func() {
			log := s.Log
			if log == nil {
				log = slog.Default()
			}
			log.Warn("NEEDS ATTENTION: mail to a role address kept for operators", "msg", m.ID,
				"rcpts", roles, "from", m.Envelope.MailFrom, "class", string(v.Class), "stored", m.ID)
		},
	}
}

// RoleForward mails operators a copy of role mail: a notice naming the
// envelope, with the email's text (its first maxForwardBytes, as plain
// text: nothing in it is rendered or run). To must not be an address of
// ours (config refuses it), or the copy would come back as role mail.
type RoleForward struct {
	To     string
	Mailer *queue.Mailer
}

// maxForwardBytes bounds the copy of the email in the notice.
const maxForwardBytes = 64 << 10

// forward queues the notice in the email's commit and returns its job ID.
func (f *RoleForward) forward(tx *store.Tx, m inbound.Meta, raw []byte, roles string, now time.Time) (string, error) {
	text := raw
	cut := ""
	if len(text) > maxForwardBytes {
		text, cut = text[:maxForwardBytes], fmt.Sprintf("\n[... cut at %d of %d bytes; the whole email: deskmail inbound / the data folder]\n", maxForwardBytes, len(raw))
	}
	body := strings.ToValidUTF8(string(text), string(utf8.RuneError)) + cut
	intro := fmt.Sprintf("deskmail received an email for %s and kept it for operators.\n\n"+
		"Envelope from: <%s>\nRemote: %s (%s)\nStored as: %s (deskmail log --address %s)\n\nThe email as received:\n\n",
		roles, m.Envelope.MailFrom, m.Envelope.RemoteIP, m.Envelope.Helo, m.ID, strings.Split(roles, ", ")[0])
	subject := "[deskmail] mail to " + roles
	if m.Subject != "" {
		subject += ": " + m.Subject
	}
	j, err := f.Mailer.EnqueueSystem(tx, queue.SystemEmail{To: mail.Address{Address: f.To}, Subject: subject,
		Text: intro + body, HTML: "<pre>" + html.EscapeString(intro+body) + "</pre>", Template: "role-forward"}, now)
	if err != nil {
		return "", fmt.Errorf("forward role mail: %w", err)
	}
	return j.ID, nil
}
