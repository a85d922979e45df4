package intake

import (
	"log/slog"
	"strings"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// RoleMailAction starts the journal action of an email sent only to
// postmaster@ or abuse@ (RFC 5321 section 4.5.1, RFC 2142): it is kept
// for operators, never threaded and never dropped. `deskmail log` and the
// console show it; `deskmail why ID` tells the story.
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
func (s *InboundStep) keepForOperators(m inbound.Meta, roles string, v loopguard.Verdict, classified func(*store.Tx) error) Result {
	action := RoleMailAction + roles + " (" + string(v.Class) + ")"
	return Result{
		Apply: func(tx *store.Tx) error {
			if err := classified(tx); err != nil {
				return err
			}
			return UpdateEntry(tx, m.JournalID, func(e *journal.Entry) { e.Action = action })
		},
		After: func() {
			log := s.Log
			if log == nil {
				log = slog.Default()
			}
			log.Warn("NEEDS ATTENTION: mail to a role address kept for operators", "msg", m.ID,
				"rcpts", roles, "from", m.Envelope.MailFrom, "class", string(v.Class), "why", "deskmail why "+m.ID)
		},
	}
}
