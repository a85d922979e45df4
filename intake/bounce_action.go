package intake

import "github.com/deskmail/deskmail/loopguard"

// bounceAction is the log's action for a delivery report tied to
// outgoing email id: "bounce recorded for outgoing email ID to ADDR
// (STATUS): KIND", where KIND (permanent, transient, mailbox_full,
// delayed, success, unknown) says what the report meant and did.
func bounceAction(r loopguard.BounceReport, id string) string {
	action := "bounce recorded for outgoing email " + id
	if r.Recipient != "" {
		action += " to " + r.Recipient
	}
	if r.Status != "" {
		action += " (" + r.Status + ")"
	}
	switch kind := loopguard.KindOf(r); kind {
	case loopguard.KindSuccess, loopguard.KindUnknown:
		return action + ": " + kind + ", nothing changed"
	case loopguard.KindDelayed:
		return action + ": delayed, a warning (still being retried)"
	case loopguard.KindPermanent:
		return action + ": permanent, the email is bounced and the address counts a hard bounce"
	default:
		return action + ": " + kind + ", the email is bounced and the address counts a transient failure"
	}
}
