package intake

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
)

// Who is believed (docs/THREADING.md, "Who is believed"). decideSender
// says whether an email may be attributed at all; what follows marks
// what it becomes, so that a forged From or a known Message-ID cannot
// make deskmail email attacker-written text to anyone:
//
//   - unverified: the From failed authentication (no aligned SPF or
//     DKIM pass, no trusted relay or forwarder) and the email did not
//     come back to a reply token issued to that address. The message
//     says so and is emailed to no customer; a conversation it opens
//     sends its opener nothing until an agent has written in it
//     (model.EmailWithheld).
//   - outsider: the author is not a participant of the conversation the
//     email matched by In-Reply-To/References. The message is appended
//     for the agents to see; its author does not become a follower and
//     no customer is notified of it.

// maxEmailTo bounds the addresses kept on a message (Message.EmailTo).
const maxEmailTo = 50

// dmarcRefusal is why an email must not be attributed to anyone because
// its From domain asks receivers to refuse or quarantine what fails DMARC
// (RFC 7489 section 6.3, p=reject or p=quarantine), whoever it claims to
// be and whatever it matched, a reply token included. "" when the domain
// publishes no such policy, or the email passed.
func dmarcRefusal(f senderFacts) string {
	a := f.Auth
	if a.Authenticated() || a.DMARC != "fail" || (a.Policy != "reject" && a.Policy != "quarantine") {
		return ""
	}
	return fmt.Sprintf("From %s fails DMARC and %s publishes p=%s (%s)", f.From, a.FromDomain, a.Policy, a)
}

// marks is what an email's message carries about its author.
type marks struct {
	unverified   bool
	verification string
	outsider     bool
	note         string // for the journal's action
}

// markAuthor works out the marks of a message that author (by id; "" for a
// new customer) posts from this email under decision d.
func (j *threadJob) markAuthor(tx *store.Tx, d decision, f senderFacts, author string) (marks, error) {
	var mk marks
	var notes []string
	switch {
	case j.auth.Authenticated():
	case f.Match.Token != nil && d.Verdict == verdictPost:
		// The signed reply token sent to this address, used with a
		// matching From (decideSender refuses any other), is how a
		// customer whose domain publishes no DMARC policy is verified
		// (issue 21, item 6; a DMARC reject/quarantine failure never
		// gets here).
		j.byToken = true
		mk.verification = "verified by the reply token sent to this address (" + j.auth.String() + ")"
	default:
		mk.unverified, mk.verification = true, "no aligned SPF or DKIM pass: "+j.auth.String()
		notes = append(notes, "unverified: From "+f.From+" is not authenticated")
	}
	in, why, err := j.participant(tx, d, f, author)
	if err != nil {
		return marks{}, err
	}
	if !in {
		mk.outsider = true
		notes = append(notes, "not a participant ("+why+"): appended for the agents to see, not following, no customer notified")
	}
	mk.note = strings.Join(notes, "; ")
	return mk, nil
}

// participant tells whether author may take part in the conversation the
// email matched, and if not, why not: they follow it, or they were a
// recipient (To or Cc) of the email they answer, are authenticated, and
// the author of that email was authenticated and a participant.
func (j *threadJob) participant(tx *store.Tx, d decision, f senderFacts, author string) (bool, string, error) {
	switch {
	case d.Verdict == verdictOpen:
		return true, "", nil // it is theirs
	case f.Author != nil && f.Author.Kind != notify.KindCustomer:
		return true, "", nil // staff, authenticated by decideSender
	case f.Match.Token != nil:
		return true, "", nil // the token was issued to them (decideSender)
	case f.Conv == nil:
		return false, "no conversation", nil
	}
	if author != "" && model.Follows(tx, author, *f.Conv) {
		return true, "", nil
	}
	answered, err := j.answered(tx, f.Conv.ID)
	if err != nil {
		return false, "", err
	}
	if answered == nil || !slices.Contains(answered.EmailTo, f.From) {
		return false, "does not follow it and was not a recipient of the email answered", nil
	}
	if !j.auth.Authenticated() {
		return false, "was a recipient of the email answered, but is not authenticated", nil
	}
	if answered.Unverified {
		// A forged email must not be able to name who takes part.
		return false, "was a recipient of the email answered, but that email was itself unverified", nil
	}
	if answered.Outsider {
		// Nor may an outsider's: they would name themselves (issue 21,
		// item 5: Cc'ing their own address on a reply to a customer's
		// Message-ID, then answering that).
		return false, "was a recipient of the email answered, but that email's author was not a participant", nil
	}
	return true, "", nil
}

// answered is the message of conversation conv that the email replies to
// (its In-Reply-To, else the last of its References), when deskmail
// received that email; nil otherwise.
func (j *threadJob) answered(tx *store.Tx, conv string) (*model.Message, error) {
	var id string
	switch {
	case len(j.email.InReplyTo) > 0:
		id = j.email.InReplyTo[0]
	case len(j.email.References) > 0:
		id = j.email.References[len(j.email.References)-1]
	default:
		return nil, nil
	}
	m, err := model.MessageByEmailID(tx, threading.CanonicalMessageID(id))
	if errors.Is(err, model.ErrNotFound) || (err == nil && m.Conversation != conv) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &m, nil
}

// apply writes the marks on the message.
func (mk marks) apply(m *model.Message) {
	m.Unverified, m.Verification, m.Outsider = mk.unverified, mk.verification, mk.outsider
}

// emailTo is the To and Cc of the email, lower case, at most maxEmailTo.
func (e email) emailTo() []string {
	var out []string
	for _, a := range append(slices.Clip(e.To), e.Cc...) {
		a = model.NormalizeEmail(a)
		if a == "" || slices.Contains(out, a) {
			continue
		}
		if len(out) == maxEmailTo {
			break
		}
		out = append(out, a)
	}
	return out
}
