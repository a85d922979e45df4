package intake

import (
	"fmt"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/threading"
)

// Sender-mismatch policies (config sender-mismatch).
const (
	PolicyQuarantine = "quarantine"
	PolicyReject     = "reject"
)

// verdict is what the threading step does with one human email.
type verdict string

const (
	verdictPost       verdict = "post"       // append to the matched conversation
	verdictOpen       verdict = "open"       // open a new external conversation
	verdictQuarantine verdict = "quarantine" // keep the email, post nothing
	verdictReject     verdict = "reject"     // refuse it (journaled as rejected)
	verdictDrop       verdict = "drop"       // nowhere to go
)

// senderFacts is what the sender checks look at.
type senderFacts struct {
	From   string        // author address, from the From header (never Reply-To)
	Author *model.Person // the owner of From, nil when unknown
	Match  threading.Match
	// TokenFor is the person the matched reply token was issued to (nil
	// without a token, or when that person is gone), to name them.
	TokenFor *model.Person
	Conv     *model.Conversation // the matched conversation, nil for new/none or when it is gone
	Auth     auth.Result
	// OwnDomain: From is an address of one of deskmail's own domains.
	OwnDomain bool
}

// decision is the outcome; Author "" with a post or open verdict means
// "create the sender as a customer".
type decision struct {
	Verdict verdict
	Author  string
	Why     string
}

// decideSender applies SPEC section 6's sender rules. Order matters: the
// claim to be an agent is checked before anything else, so a spoofed
// agent address never posts, whatever the email matched.
func decideSender(f senderFacts, policy string) decision {
	refuse := func(why string) decision {
		if policy == PolicyReject {
			return decision{Verdict: verdictReject, Why: why}
		}
		return decision{Verdict: verdictQuarantine, Why: why}
	}
	if f.From == "" {
		return decision{Verdict: verdictDrop, Why: "no single author address in From"}
	}
	if f.Match.Method == threading.MethodNone {
		return decision{Verdict: verdictDrop, Why: f.Match.Reason}
	}
	if f.Match.Method != threading.MethodNew && f.Conv == nil {
		return decision{Verdict: verdictDrop, Why: fmt.Sprintf("conversation %s no longer exists", f.Match.Conversation)}
	}
	a := f.Author
	if a == nil && f.OwnDomain {
		// Mail "from" one of our own addresses (support@, reply+..., a
		// bounce+ address) by nobody we know: never make it a customer,
		// whom deskmail would then email, which is a loop (SPEC section 7).
		return decision{Verdict: verdictDrop, Why: "From " + f.From + " is an address of deskmail's own domains and of no known person"}
	}
	if a != nil && a.Kind != notify.KindCustomer && !f.Auth.Authenticated() {
		// RFC 7489 section 3.1: only an aligned SPF or DKIM pass ties the
		// From domain to the sender. Without it anyone can write From:
		// an agent's address.
		return refuse(fmt.Sprintf("From %s claims %s %s, but neither SPF nor DKIM aligns with it and it did not come from a trusted relay (%s)",
			f.From, a.Kind, personName(*a), f.Auth))
	}
	if why := dmarcRefusal(f); why != "" {
		return refuse(why)
	}
	if t := f.Match.Token; t != nil && (a == nil || a.ID != t.Recipient) {
		who := "unknown sender " + f.From
		if a != nil {
			who = personName(*a)
		}
		owner := t.Recipient
		if f.TokenFor != nil {
			owner = personName(*f.TokenFor)
		}
		return refuse(fmt.Sprintf("reply token for %s used by %s", owner, who))
	}
	if f.Conv != nil && f.Conv.Kind == model.Internal && (a == nil || a.Kind != notify.KindUser) {
		return refuse(fmt.Sprintf("%s may not post in internal conversation %s", f.From, f.Conv.ID))
	}
	id := ""
	if a != nil {
		id = a.ID
	}
	if f.Match.Method == threading.MethodNew {
		return decision{Verdict: verdictOpen, Author: id, Why: f.Match.Reason}
	}
	return decision{Verdict: verdictPost, Author: id, Why: f.Match.Reason}
}

// threadBy is the journal's (and explain's) word for a matching method.
func threadBy(m threading.Method) string {
	switch m {
	case threading.MethodToken:
		return "token"
	case threading.MethodInReplyTo, threading.MethodReferences:
		return "references"
	case threading.MethodSubjectTag:
		return "subject"
	case threading.MethodNew:
		return "new"
	}
	return "none"
}
