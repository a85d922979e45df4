package model

import (
	"github.com/deskmail/deskmail/mailmsg"
	"github.com/deskmail/deskmail/store"
)

// PrefetchInbound reads at once (store.Tx.Prefetch: one round trip on
// PostgreSQL instead of one per lookup) the keys the commit of an inbound
// email looks up before anything else: whether it was appended already
// (emailKey, see EmailKey), who owns its sender's address, whether its
// own Message-ID is known (the Message-ID index and the email-to-message
// index), and the conversations of the Message-IDs it refers to
// (In-Reply-To, then the newest References, as threading tries them). A
// key it gets wrong costs only the round trip it meant to save. With them
// come the two small indexes of users notified of every message
// (UsersNotifiedOfAll), which posting the message reads whole.
func PrefetchInbound(tx *store.Tx, emailKey, from, messageID string, inReplyTo, references []string) {
	tx.PrefetchRanges(inboundRanges, inboundKeys(emailKey, from, messageID, inReplyTo, references)...)
}

// InboundReads names what PrefetchInbound reads for the commit's first
// round trip (store.Reads, store.ReadsRange), where the step knows the
// email before its commit: PrefetchInbound then finds it all read and
// costs no round trip of its own.
func InboundReads(emailKey, from, messageID string, inReplyTo, references []string) []store.UpdateOption {
	keys := inboundKeys(emailKey, from, messageID, inReplyTo, references)
	opts := make([]store.UpdateOption, 0, len(keys)+len(inboundRanges))
	for _, k := range keys {
		opts = append(opts, store.Reads(k.Bucket, k.Key))
	}
	for _, r := range inboundRanges {
		opts = append(opts, store.ReadsRange(r.Bucket, r.From, r.To))
	}
	return opts
}

// inboundRanges are the indexes posting a message reads whole.
var inboundRanges = []store.Range{{Bucket: bUsersAllCust}, {Bucket: bUsersAllReply}}

func inboundKeys(emailKey, from, messageID string, inReplyTo, references []string) []store.Key {
	keys := []store.Key{{Bucket: bEmailsAppended, Key: []byte(emailKey)}}
	if from != "" {
		keys = append(keys, store.Key{Bucket: bPeopleEmail, Key: []byte(NormalizeEmail(from))})
	}
	if id := canonicalMessageID(messageID); id != "" {
		keys = append(keys, store.Key{Bucket: bMessageIDs, Key: []byte(id)}, store.Key{Bucket: bEmailMessages, Key: []byte(id)})
	}
	refs := 0
	for _, ids := range [][]string{inReplyTo, references} {
		for i := len(ids) - 1; i >= 0 && refs < 2*mailmsg.MaxMessageIDs; i-- {
			if id := canonicalMessageID(mailmsg.CanonicalMessageID(ids[i])); id != "" {
				keys = append(keys, store.Key{Bucket: bMessageIDs, Key: []byte(id)})
				refs++
			}
		}
	}
	return keys
}
