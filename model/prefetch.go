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
	tx.PrefetchRanges([]store.Range{{Bucket: bUsersAllCust}, {Bucket: bUsersAllReply}}, keys...)
}
