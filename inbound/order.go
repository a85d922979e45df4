package inbound

import (
	"strings"

	"github.com/deskmail/deskmail/mailmsg"
)

// Limits of OrderKeys: References can list a whole thread; the most
// recent ones are what a reply's conversation is found by.
const (
	maxRefKeys = 20
	maxKeyLen  = 200
)

// OrderKeys names, from what is known before any lookup, everything that
// may put an email into the same conversation as another one: the reply
// token addresses it was sent to (reply+TOKEN@...), its own Message-ID
// and the ones it refers to (In-Reply-To, the last References), and its
// sender. Two emails sharing a key are appended in the order they were
// answered 250; emails sharing none are independent and may be committed
// in any order. The keys over-approximate (two emails of one sender may
// well go to two conversations): a false sharing costs a little waiting,
// a missing one would cost order.
//
// The subject tag ([#1234]), the last threading fallback, is not a key:
// a tagged email from a new sender with no references is rare, and its
// order relative to others only matters within seconds.
//
// They are read from msg, the one parse of the email's header: the
// author (or, when there is none, whatever address the first From field
// holds, or the envelope sender), Message-ID, In-Reply-To, References.
func OrderKeys(env Envelope, msg *mailmsg.Message) []string {
	seen := map[string]bool{}
	var keys []string
	add := func(k string) {
		k = strings.Map(func(r rune) rune {
			if r == 0 || r == '\r' || r == '\n' {
				return -1
			}
			return r
		}, k)
		if len(k) > maxKeyLen {
			k = k[:maxKeyLen]
		}
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, r := range env.Rcpts {
		r = strings.ToLower(r)
		if strings.HasPrefix(r, "reply+") {
			add("rcpt:" + r)
		}
	}
	var ids []string
	if msg.MessageID != "" {
		ids = append(ids, msg.MessageID)
	}
	ids = append(ids, msg.InReplyTo...)
	refs := msg.References
	if len(refs) > maxRefKeys {
		refs = refs[len(refs)-maxRefKeys:]
	}
	// IDs are lower-cased: over-grouping two IDs differing only in case
	// is harmless here.
	for _, id := range append(ids, refs...) {
		add("mid:" + strings.ToLower(id))
	}
	// Without an author (none, or an ambiguous one) the first From's
	// address still groups the email with its likely sender: a false
	// sharing costs a little waiting, never an attribution.
	sender := ""
	if msg.Author != nil {
		sender = msg.Author.Addr
	} else {
		sender = mailmsg.AddrSpec(msg.Header.Get("from"))
	}
	if sender == "" {
		sender = env.MailFrom
	}
	if sender = strings.ToLower(strings.TrimSpace(sender)); sender != "" {
		add("from:" + sender)
	}
	return keys
}

// MetaOrderKeys are the ordering keys of an email stored by an earlier
// version, which recorded none: from its record's sender and Message-ID
// (its references are not known). The record's fields hold no line
// breaks (clip), so they read back as the two fields they were.
func MetaOrderKeys(m Meta) []string {
	h := "From: " + clip(m.From) + "\r\nMessage-ID: " + clip(m.MessageID) + "\r\n\r\n"
	return OrderKeys(m.Envelope, mailmsg.ParseHeader([]byte(h), mailmsg.Limits{}))
}
