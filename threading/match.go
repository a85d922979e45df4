package threading

import (
	"errors"
	"fmt"
	"strings"
)

// Index is what matching needs from the store. Lookups that find nothing
// return ok=false and a nil error; an error means the store failed, and
// Match stops (the caller answers 4xx or retries, never guesses).
type Index interface {
	// ConversationByMessageID maps a Message-ID (canonical form, no angle
	// brackets) that deskmail sent or received, or a thread root, to its
	// conversation.
	ConversationByMessageID(id string) (conv string, ok bool, err error)
	// ConversationByTag maps a subject tag (lowercase, without "[#" "]").
	ConversationByTag(tag string) (conv string, ok bool, err error)
	// PersonByEmail finds the person owning an address (case-insensitive).
	PersonByEmail(addr string) (person string, ok bool, err error)
	// Follows reports whether person follows conv or its item (SPEC 1).
	Follows(person, conv string) (bool, error)
}

// TokenVerifier checks reply addresses; *Keyring is one.
type TokenVerifier interface {
	ParseReplyAddress(addr string, domains []string) (Token, error)
}

// Method says how an inbound email was matched; it goes into the journal.
type Method string

// The matching methods, in the order Match tries them.
const (
	MethodToken      Method = "token"
	MethodInReplyTo  Method = "in-reply-to"
	MethodReferences Method = "references"
	MethodSubjectTag Method = "subject-tag"
	MethodNew        Method = "new"  // open a new conversation
	MethodNone       Method = "none" // nothing matched, no support address
)

// Inbound is what Match reads from an email. Addresses are bare
// addr-specs ("a@b"); parse headers with net/mail first.
type Inbound struct {
	EnvelopeTo []string // RCPT TO, in order
	To, Cc     []string // header recipients
	From       string   // author address from the From header (never Reply-To)
	InReplyTo  []string // Message-IDs, as ParseMessageIDs returns them
	References []string // oldest first
	Subject    string
}

// Matcher holds the configuration of matching.
type Matcher struct {
	Tokens TokenVerifier
	Index  Index
	// ReplyDomains are the domains of reply+TOKEN addresses.
	ReplyDomains []string
	// SupportAddresses open a new conversation when nothing else matched
	// (compared case-insensitively).
	SupportAddresses []string
	// Describe names a person in Reason ("Ann Lee <ann@client.test>"), so
	// an operator reading the log need not look ids up; nil writes the id.
	Describe func(personID string) string
}

// who is a person as Reason names them.
func (m *Matcher) who(person string) string {
	if m.Describe == nil {
		return person
	}
	return m.Describe(person)
}

// Match is the outcome of matching one email.
type Match struct {
	Conversation string // empty for MethodNew and MethodNone
	Method       Method
	Token        *Token // the verified token, for MethodToken
	// Address is the recipient that carried the token (MethodToken) or
	// the support address (MethodNew); MessageID the ID that matched.
	Address   string
	MessageID string
	// Reason explains the decision and everything skipped on the way
	// (forged tokens, a tag ignored for a non-follower), for the journal.
	Reason string
}

// Match finds the conversation of an inbound email, trying in order:
//
//  1. a reply token that verifies, in the envelope recipients first
//     (what the MTA delivered to us), then To and Cc;
//  2. In-Reply-To, then References newest first, against the index;
//  3. the subject tag, only if the sender is a known person who already
//     follows that conversation: tags are guessable, so a number in a
//     subject must never let one customer write into another's ticket;
//  4. a new conversation when a recipient is a support address;
//  5. otherwise MethodNone.
//
// A token that names the wrong person for the sender still matches here:
// Match says where the email belongs, and the caller decides whether the
// sender may post there (SPEC 6: quarantine or reject, never attribute).
// Bad tokens never match; they are reported in Reason and matching goes on.
func (m *Matcher) Match(in Inbound) (Match, error) {
	var notes []string
	if res, ok := m.byToken(in, &notes); ok {
		return res, nil
	}
	res, ok, err := m.byMessageID(in, &notes)
	if err != nil || ok {
		return res, err
	}
	res, ok, err = m.bySubjectTag(in, &notes)
	if err != nil || ok {
		return res, err
	}
	for _, addr := range recipients(in) {
		for _, s := range m.SupportAddresses {
			if strings.EqualFold(bareAddress(addr), bareAddress(s)) {
				notes = append(notes, "sent to support address "+s)
				return Match{Method: MethodNew, Address: s, Reason: join(notes)}, nil
			}
		}
	}
	notes = append(notes, "no token, known reference, followed tag or support address")
	return Match{Method: MethodNone, Reason: join(notes)}, nil
}

// maxRecipients bounds how many recipient addresses are examined.
const maxRecipients = 100

func recipients(in Inbound) []string {
	all := make([]string, 0, len(in.EnvelopeTo)+len(in.To)+len(in.Cc))
	all = append(all, in.EnvelopeTo...)
	all = append(all, in.To...)
	all = append(all, in.Cc...)
	if len(all) > maxRecipients {
		all = all[:maxRecipients]
	}
	return all
}

func (m *Matcher) byToken(in Inbound, notes *[]string) (Match, bool) {
	if m.Tokens == nil {
		return Match{}, false
	}
	for _, addr := range recipients(in) {
		tok, err := m.Tokens.ParseReplyAddress(addr, m.ReplyDomains)
		if errors.Is(err, ErrNotToken) {
			continue
		}
		if err != nil {
			*notes = append(*notes, fmt.Sprintf("reply address %s rejected: %v", addr, err))
			continue
		}
		key := "current key"
		if !tok.Current {
			key = "old key " + tok.KeyID
		}
		*notes = append(*notes, fmt.Sprintf("reply token in %s for conversation %s, recipient %s (%s)", addr, tok.Conversation, m.who(tok.Recipient), key))
		return Match{Conversation: tok.Conversation, Method: MethodToken, Token: &tok, Address: addr, Reason: join(*notes)}, true
	}
	return Match{}, false
}

func (m *Matcher) byMessageID(in Inbound, notes *[]string) (Match, bool, error) {
	try := func(ids []string, method Method) (Match, bool, error) {
		n := 0
		for i := len(ids) - 1; i >= 0 && n < MaxReferencesScan; i, n = i-1, n+1 {
			id := CanonicalMessageID(ids[i])
			if id == "" {
				continue
			}
			conv, ok, err := m.Index.ConversationByMessageID(id)
			if err != nil {
				return Match{}, false, fmt.Errorf("look up Message-ID: %w", err)
			}
			if ok {
				*notes = append(*notes, fmt.Sprintf("%s <%s> is in conversation %s", method, id, conv))
				return Match{Conversation: conv, Method: method, MessageID: id, Reason: join(*notes)}, true, nil
			}
		}
		return Match{}, false, nil
	}
	res, ok, err := try(in.InReplyTo, MethodInReplyTo)
	if err != nil || ok {
		return res, ok, err
	}
	return try(in.References, MethodReferences)
}

func (m *Matcher) bySubjectTag(in Inbound, notes *[]string) (Match, bool, error) {
	tag, ok := ParseTag(in.Subject)
	if !ok {
		return Match{}, false, nil
	}
	conv, ok, err := m.Index.ConversationByTag(tag)
	if err != nil {
		return Match{}, false, fmt.Errorf("look up subject tag: %w", err)
	}
	if !ok {
		*notes = append(*notes, fmt.Sprintf("subject tag [#%s] names no conversation", tag))
		return Match{}, false, nil
	}
	person, known, err := m.Index.PersonByEmail(bareAddress(in.From))
	if err != nil {
		return Match{}, false, fmt.Errorf("look up sender: %w", err)
	}
	if !known {
		*notes = append(*notes, fmt.Sprintf("subject tag [#%s] ignored: sender %s is unknown", tag, in.From))
		return Match{}, false, nil
	}
	follows, err := m.Index.Follows(person, conv)
	if err != nil {
		return Match{}, false, fmt.Errorf("check follower: %w", err)
	}
	if !follows {
		*notes = append(*notes, fmt.Sprintf("subject tag [#%s] ignored: %s does not follow conversation %s", tag, m.who(person), conv))
		return Match{}, false, nil
	}
	*notes = append(*notes, fmt.Sprintf("subject tag [#%s] of conversation %s, followed by sender %s", tag, conv, m.who(person)))
	return Match{Conversation: conv, Method: MethodSubjectTag, Reason: join(*notes)}, true, nil
}

func join(notes []string) string { return strings.Join(notes, "; ") }
