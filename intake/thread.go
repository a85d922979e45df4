package intake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/deskmail/deskmail/auth"
	"github.com/deskmail/deskmail/clock"
	"github.com/deskmail/deskmail/inbound"
	"github.com/deskmail/deskmail/journal"
	"github.com/deskmail/deskmail/loopguard"
	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/messaging"
	"github.com/deskmail/deskmail/model"
	"github.com/deskmail/deskmail/store"
	"github.com/deskmail/deskmail/threading"
	"github.com/deskmail/deskmail/webhook"
)

// Threader is the pipeline step after classification, for human mail:
// find the conversation (threading.Matcher over model.View), check the
// sender (decideSender), and append the stripped text as a message
// through messaging.PostTx, with the webhook job, in the commit that ends
// the stored email's processing.
type Threader struct {
	Keyring          *threading.Keyring
	Auth             *auth.Checker
	Clock            clock.Clock
	ReplyDomains     []string
	SupportAddresses []string
	Policy           string // PolicyQuarantine (default) or PolicyReject
	Webhook          bool   // enqueue a webhook event for each appended message
	Hub              *messaging.Hub
	ownOnce          sync.Once
	own              inbound.Domains // ReplyDomains, normalised once
	// Messaging runs the hooks of a new message's notifications (the hold
	// queue) inside the step's commit; nil in tests without a queue.
	Messaging *messaging.Service
	Posted    func() // called after a commit that appended a message (wakes the queue worker for its webhook job)
	// ConversationCap holds the inbound mail of a ping-pong between
	// deskmail and another system (see pingpong.go); zero Max: off.
	ConversationCap loopguard.ConversationCap
}

// threadJob is the part of the work done before the commit: parsing and
// the DNS checks, which must not run inside a store transaction.
type threadJob struct {
	t     *Threader
	m     inbound.Meta
	email email
	auth  auth.Result
	now   time.Time
	// opens: locks found no conversation to thread to (reads draws a
	// tag for the one the commit will open).
	opens bool
	// Set by apply, read by after (apply may run more than once when
	// another write of its batch fails; the last run is the one committed).
	posted  bool
	notes   []model.Notification
	outcome string // the metric label of the committed run
	byToken bool   // an unauthenticated From verified by its reply token (markAuthor)
}

// prepare runs the sender authentication of the email read as e.
func (t *Threader) prepare(ctx context.Context, m inbound.Meta, msg *mailmsg.Message, raw []byte, e email) *threadJob {
	j := &threadJob{t: t, m: m, email: e, now: t.Clock.Now()}
	j.auth = auth.Result{SPF: "none", DMARC: "none"}
	if t.Auth != nil {
		j.auth = t.Auth.Check(ctx, auth.Input{RemoteIP: m.Envelope.RemoteIP, Helo: m.Envelope.Helo,
			MailFrom: m.Envelope.MailFrom, Raw: raw, Message: msg})
	}
	return j
}

// outcome is what the step did, for the journal.
type outcome struct {
	conv, by, action, status string
	// person is the author it was posted as, or whose identity a refused
	// email claimed; message the message it became. Ids for --json: the
	// action text names people by name and address.
	person, message string
}

// apply runs in the commit: match, decide, write. Everything it reads is
// the snapshot it writes on, so a second copy of the same email processed
// in the next commit sees the first.
func (j *threadJob) apply(tx *store.Tx) error {
	j.posted, j.notes, j.outcome, j.byToken = false, nil, "", false
	o, err := j.run(tx)
	if err != nil {
		return err
	}
	return UpdateEntry(tx, j.m.JournalID, func(e *journal.Entry) {
		e.Conversation, e.ThreadBy, e.Auth, e.Action = o.conv, o.by, j.auth.String(), o.action
		e.Person, e.Unverified = o.person, !j.auth.Authenticated() && !j.byToken
		if o.message != "" {
			e.Messages = []string{o.message}
		}
		if o.status != "" {
			e.Status = o.status
		}
	})
}

// locks names what apply will lock (store.Locks) as far as it can be told
// before the commit: the email's key, its sender's address, its own
// Message-ID, and the conversation it threads to. Matching asks the store
// only for an email that names something (a reference, a subject tag):
// then it runs again on a snapshot; a fresh email opens a conversation
// whose id is made in the commit and needs no lock. With bbolt there is
// nothing to declare.
func (j *threadJob) locks(ctx context.Context, db *store.DB) []string {
	if db == nil || !db.Shared() {
		return nil
	}
	names := []string{model.EmailKeyLock(model.EmailKey(j.m.MessageID, j.m.BodyHash, j.m.ID))}
	if j.email.From != "" {
		names = append(names, model.AddressLock(j.email.From))
	}
	for _, mid := range []string{j.m.MessageID, j.email.MessageID} {
		if mid != "" && !slices.Contains(names, model.MessageIDLock(mid)) {
			names = append(names, model.MessageIDLock(mid))
		}
	}
	match := func(ix threading.Index) (threading.Match, error) {
		m := threading.Matcher{Tokens: j.t.Keyring, Index: ix, ReplyDomains: j.t.ReplyDomains,
			SupportAddresses: j.t.SupportAddresses}
		return m.Match(threading.Inbound{EnvelopeTo: j.m.Envelope.Rcpts, To: j.email.To, Cc: j.email.Cc,
			From: j.email.From, InReplyTo: j.email.InReplyTo, References: j.email.References, Subject: j.email.Subject})
	}
	p := &probeIndex{}
	m, err := match(p)
	if p.asked {
		err = db.View(ctx, func(tx *store.Tx) error {
			m, err = match(model.View{Tx: tx})
			return err
		})
	}
	if err == nil && m.Conversation != "" {
		names = append(names, model.ConvLock(m.Conversation))
	}
	j.opens = err == nil && m.Conversation == ""
	return names
}

// reads are what run looks up first (model.PrefetchInbound), named for
// the commit's first round trip (Result.Reads), and the tag of the
// conversation it will open when locks found none to thread to.
func (j *threadJob) reads() []store.UpdateOption {
	opts := model.InboundReads(model.EmailKey(j.m.MessageID, j.m.BodyHash, j.m.ID), j.email.From,
		j.email.MessageID, j.email.InReplyTo, j.email.References)
	if j.opens {
		opts = append(opts, model.DrawsTag())
	}
	return opts
}

// probeIndex is a threading.Index that knows nothing and notes that it
// was asked: matching that never asks needs no snapshot.
type probeIndex struct{ asked bool }

func (p *probeIndex) ConversationByMessageID(string) (string, bool, error) {
	p.asked = true
	return "", false, nil
}

func (p *probeIndex) ConversationByTag(string) (string, bool, error) {
	p.asked = true
	return "", false, nil
}

func (p *probeIndex) PersonByEmail(string) (string, bool, error) {
	p.asked = true
	return "", false, nil
}

func (p *probeIndex) Follows(string, string) (bool, error) {
	p.asked = true
	return false, nil
}

func (j *threadJob) run(tx *store.Tx) (outcome, error) {
	key := model.EmailKey(j.m.MessageID, j.m.BodyHash, j.m.ID)
	model.PrefetchInbound(tx, key, j.email.From, j.email.MessageID, j.email.InReplyTo, j.email.References)
	if id, ok := model.EmailAppended(tx, key); ok {
		msg, err := model.GetMessage(tx, id)
		if err != nil {
			return outcome{}, err
		}
		j.outcome = "duplicate"
		return outcome{conv: msg.Conversation, by: "duplicate", message: id,
			action: fmt.Sprintf("duplicate of message %s in conversation %s: not appended again", id, msg.Conversation)}, nil
	}
	view := model.View{Tx: tx}
	matcher := threading.Matcher{Tokens: j.t.Keyring, Index: view, ReplyDomains: j.t.ReplyDomains,
		SupportAddresses: j.t.SupportAddresses, Describe: describer(tx)}
	match, err := matcher.Match(threading.Inbound{EnvelopeTo: j.m.Envelope.Rcpts, To: j.email.To, Cc: j.email.Cc,
		From: j.email.From, InReplyTo: j.email.InReplyTo, References: j.email.References, Subject: j.email.Subject})
	if err != nil {
		return outcome{}, err
	}
	f := senderFacts{From: j.email.From, Match: match, Auth: j.auth,
		OwnDomain: j.t.ownDomains().Accepts(j.email.From)}
	if j.email.From != "" {
		if p, err := model.PersonByEmail(tx, j.email.From); err == nil {
			f.Author = &p
		} else if !errors.Is(err, model.ErrNotFound) {
			return outcome{}, err
		}
	}
	if match.Token != nil {
		if p, err := model.GetPerson(tx, match.Token.Recipient); err == nil {
			f.TokenFor = &p
		} else if !errors.Is(err, model.ErrNotFound) {
			return outcome{}, err
		}
	}
	if match.Conversation != "" {
		if c, err := model.GetConversation(tx, match.Conversation); err == nil {
			f.Conv = &c
		} else if !errors.Is(err, model.ErrNotFound) {
			return outcome{}, err
		}
	}
	d := decideSender(f, j.t.Policy)
	j.outcome = string(d.Verdict)
	o := outcome{conv: match.Conversation, by: threadBy(match.Method), person: claimed(f)}
	switch d.Verdict {
	case verdictDrop:
		o.conv, o.action = "", "dropped: "+d.Why
		return o, nil
	case verdictQuarantine:
		o.action = "quarantined: " + d.Why
		return o, nil
	case verdictReject:
		o.action, o.status = "rejected: "+d.Why, journal.StatusRejected
		return o, nil
	}
	if hold, reason, err := j.pingPong(tx, d, f, o.conv); err != nil || hold {
		if err != nil {
			return outcome{}, err
		}
		o2, err := j.hold(tx, o.conv, reason)
		o2.by = o.by
		return o2, err
	}
	return j.post(tx, d, f, key, o)
}

// post appends the email as a message, opening a conversation and
// creating the customer first when the decision says so.
func (j *threadJob) post(tx *store.Tx, d decision, f senderFacts, key string, o outcome) (outcome, error) {
	var notes []string
	author, who := d.Author, ""
	if f.Author != nil {
		who = personName(*f.Author)
	}
	created := author == ""
	if created {
		author = store.NewID(j.now)
	}
	// markAuthor reads nothing of the author's record: a new customer is
	// written after it, unverified at once when it says so (one record
	// written, not the customer and then MarkUnverified's rewrite).
	mk, err := j.markAuthor(tx, d, f, author)
	if err != nil {
		return outcome{}, err
	}
	if created {
		p, err := model.AddCustomer(tx, author, j.email.FromName, j.email.From, j.now, mk.unverified && f.Author == nil)
		if err != nil {
			return outcome{}, fmt.Errorf("create customer %s: %w", j.email.From, err)
		}
		who = personName(p)
		notes = append(notes, "a new customer")
	} else if mk.unverified && f.Author == nil {
		if err := model.MarkUnverified(tx, author); err != nil {
			return outcome{}, err
		}
	}
	conv := o.conv
	if d.Verdict == verdictOpen {
		c := &model.Conversation{ID: store.NewID(j.now), Kind: model.External, Followers: []string{author},
			Created: j.t.Clock.Now(),
			Subject: clipSubject(threading.NormalizeSubject(threading.StripTag(j.email.Subject))),
			RootID:  j.email.MessageID}
		if mk.unverified {
			c.OpenedUnverified = author
		}
		model.FreshConversation(tx, c.ID) // a fresh id: nobody else can know it
		if err := model.PutConversation(tx, c); err != nil {
			return outcome{}, fmt.Errorf("open conversation: %w", err)
		}
		conv = c.ID
	}
	// A new ID taken now, in the commit: message IDs sort by the time they
	// join their conversation, which seen-acks rely on (an email received
	// long ago but appended now must not count as already seen). A re-run
	// appends nothing: the email key above catches it.
	msg := model.Message{ID: store.NewID(j.t.Clock.Now()), Conversation: conv, Author: author, Channel: model.ChannelEmail,
		Text: j.email.Text, Original: j.m.ID, MessageID: j.email.MessageID,
		Attachments: j.email.Attachments, EmailTo: j.email.emailTo()}
	model.FreshMessage(tx, msg.ID)
	mk.apply(&msg)
	if strings.TrimSpace(msg.Text) == "" && len(msg.Attachments) == 0 {
		msg.Text = "(empty email)"
	}
	posted, notes2, err := messaging.PostTx(tx, msg, j.now)
	if err != nil {
		return outcome{}, fmt.Errorf("append message: %w", err)
	}
	j.posted, j.notes = true, notes2
	// Held emails for these notifications, in this same commit.
	if j.t.Messaging != nil {
		if err := j.t.Messaging.Notified(tx, notes2); err != nil {
			return outcome{}, fmt.Errorf("hold emails: %w", err)
		}
	}
	if err := model.RememberEmail(tx, key, msg.ID); err != nil {
		return outcome{}, err
	}
	if j.t.Webhook {
		if err := webhook.Enqueue(tx, webhook.Event{ID: store.NewID(j.now), Type: webhook.TypeMessageCreated,
			Conversation: conv, Message: msg.ID, Author: author, Channel: model.ChannelEmail,
			NewConv: d.Verdict == verdictOpen, Time: j.now}); err != nil {
			return outcome{}, err
		}
	}
	o.conv = conv
	if d.Verdict == verdictOpen {
		o.action = fmt.Sprintf("created conversation %s", conv)
	} else {
		o.action = fmt.Sprintf("appended to conversation %s by %s", conv, o.by)
	}
	o.action += fmt.Sprintf(" as message %s from %s, %d notified", msg.ID, who, len(posted.Recipients))
	o.person, o.message = author, msg.ID
	notes = append(notes, d.Why)
	if mk.note != "" {
		notes = append(notes, mk.note)
	}
	o.action += " (" + strings.Join(notes, "; ") + ")"
	return o, nil
}

// claimed is the person an email is about before it is posted: the one
// its From belongs to, else the one its reply token was issued to.
func claimed(f senderFacts) string {
	switch {
	case f.Author != nil:
		return f.Author.ID
	case f.TokenFor != nil:
		return f.TokenFor.ID
	case f.Match.Token != nil:
		return f.Match.Token.Recipient
	}
	return ""
}

// after runs once the commit is durable.
func (j *threadJob) after() {
	metricThread.WithLabelValues(j.outcome).Inc()
	if j.t.Hub != nil && len(j.notes) > 0 {
		j.t.Hub.Publish(j.notes)
	}
	if j.t.Posted != nil && j.posted {
		j.t.Posted()
	}
}

func clipSubject(s string) string {
	if len(s) > 500 {
		s = strings.ToValidUTF8(s[:500], "")
	}
	return s
}

// ownDomains is ReplyDomains as an inbound.Domains, built once rather than
// for every email.
func (t *Threader) ownDomains() inbound.Domains {
	t.ownOnce.Do(func() { t.own = inbound.NewDomains(t.ReplyDomains) })
	return t.own
}
