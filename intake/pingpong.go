package intake

import (
	"fmt"
	"time"

	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// maxRepliesScanned bounds how many of a conversation's recent messages
// the ping-pong cap reads to find a person's reply: the window is short,
// and a conversation past this many messages in it is busy with people.
const maxRepliesScanned = 200

// pingPong applies the conversation cap (loopguard.ConversationCap) to a
// human email about to be appended to an existing conversation by an
// external author. It reports whether the email must be held instead, and
// why; a held email is journaled as looping and not appended, so it
// notifies no one and starts no automatic email, and its raw copy stays
// stored.
func (j *threadJob) pingPong(tx *store.Tx, d decision, f senderFacts, conv string) (hold bool, reason string, err error) {
	c := j.t.ConversationCap
	if c.Max <= 0 || d.Verdict != verdictPost || conv == "" || f.From == "" {
		return false, "", nil
	}
	if f.Author != nil && f.Author.Kind != notify.KindCustomer {
		// Agents and bots: their mail is checked by authentication, and
		// a loop through them is the recipient cap's to stop.
		return false, "", nil
	}
	tx.Need(model.ConvLock(conv)) // its counters are the conversation's
	last, err := lastPersonReply(tx, conv, d.Author, j.now.Add(-c.Window))
	if err != nil {
		return false, "", err
	}
	return c.Count(tx, conv, f.From, last, j.now)
}

// lastPersonReply is when one of the organisation's users (an agent, a
// person on deskmail's side) last posted in conversation conv since
// since; zero when none did. Customers' messages do not count: in the
// loop this cap is for, two outside systems in one conversation answer
// each other, and each looks like a person to the other's count.
func lastPersonReply(tx *store.Tx, conv, author string, since time.Time) (time.Time, error) {
	after := fmt.Sprintf("%016x", uint64(since.UnixNano()))
	msgs, _, err := model.MessagesAfter(tx, conv, after, maxRepliesScanned, 1<<30)
	if err != nil {
		return time.Time{}, err
	}
	var last time.Time
	kinds := map[string]notify.Kind{}
	for _, m := range msgs {
		if m.Author == author || m.Retracted != nil {
			continue
		}
		k, ok := kinds[m.Author]
		if !ok {
			if p, err := model.GetPerson(tx, m.Author); err == nil {
				k = p.Kind
			}
			kinds[m.Author] = k
		}
		if k != notify.KindUser {
			continue
		}
		if m.Created.After(last) {
			last = m.Created
		}
	}
	return last, nil
}

// hold records a held email: the journal entry and the stored email's
// record become looping, with the cap's reason first.
func (j *threadJob) hold(tx *store.Tx, conv, reason string) (outcome, error) {
	if err := inbound.Annotate(tx, j.m.ID, func(mm *inbound.Meta) {
		mm.Class = string(loopguard.Looping)
		mm.Reasons = append([]string{reason}, mm.Reasons...)
	}); err != nil {
		return outcome{}, err
	}
	if err := UpdateEntry(tx, j.m.JournalID, func(e *journal.Entry) {
		e.Class = string(loopguard.Looping)
		e.Reasons = append([]string{reason}, e.Reasons...)
	}); err != nil {
		return outcome{}, err
	}
	j.outcome = "held"
	return outcome{conv: conv, by: "", action: "held, not appended: " + reason}, nil
}
