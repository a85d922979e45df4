package model

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/deskmail/deskmail/store"
)

const (
	bMessageNotifications = "message_notifications" // message \x00 person -> nil
	// bUnseen indexes the notifications not seen yet, by person, then
	// conversation, then message (IDs sort by time), so a seen-ack costs
	// what it marks and an unread count what is unread, however long the
	// conversation or the inbox.
	bUnseen = "notifications_unseen" // person \x00 conversation \x00 message -> nil
)

func unseenKey(person, conv, msg string) []byte {
	return []byte(person + "\x00" + conv + "\x00" + msg)
}

// Notification is one (message, recipient): it is in the recipient's
// messenger inbox at once, and becomes an email only if not seen in time.
type Notification struct {
	Person       string     `json:"person"`
	Message      string     `json:"message"`
	Conversation string     `json:"conversation"`
	Reason       string     `json:"reason"`
	Created      time.Time  `json:"created"`
	Seen         *time.Time `json:"seen,omitempty"`
}

func notifKey(person, msg string) []byte { return []byte(person + "\x00" + msg) }

// AddNotification records a notification (idempotent per message and person).
func AddNotification(tx *store.Tx, n Notification) error {
	k := notifKey(n.Person, n.Message)
	if tx.Get(bNotifications, k) != nil {
		return nil
	}
	if err := put(tx, bNotifications, string(k), n); err != nil {
		return err
	}
	// Other nodes' live streams learn of it once the commit is done.
	if b, err := json.Marshal(n); err == nil {
		tx.Publish(TopicNotification, string(b))
	}
	if n.Seen == nil {
		if err := tx.Put(bUnseen, unseenKey(n.Person, n.Conversation, n.Message), nil); err != nil {
			return err
		}
	}
	return tx.Put(bMessageNotifications, []byte(n.Message+"\x00"+n.Person), nil)
}

// Inbox returns a person's notifications, newest first (at most limit), and
// how many of all their notifications are unseen.
func Inbox(tx *store.Tx, person string, limit int) ([]Notification, int, error) {
	prefix := []byte(person + "\x00")
	end := []byte(person + "\x01")
	var out []Notification
	err := tx.ScanReverse(bNotifications, end, func(k, v []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		var n Notification
		if err := json.Unmarshal(v, &n); err != nil {
			return false, err
		}
		out = append(out, n)
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, 0, err
	}
	unread := 0
	err = tx.Scan(bUnseen, prefix, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		unread++
		return true, nil
	})
	return out, unread, err
}

// NotificationsOf returns every notification of a message.
func NotificationsOf(tx *store.Tx, msg string) ([]Notification, error) {
	prefix := []byte(msg + "\x00")
	var out []Notification
	err := tx.Scan(bMessageNotifications, prefix, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		var n Notification
		if err := get(tx, bNotifications, string(notifKey(string(k[len(prefix):]), msg)), &n); err != nil {
			return false, err
		}
		out = append(out, n)
		return true, nil
	})
	return out, err
}

// SeenLock is the lock (store.Locks) of one person's notifications of
// one conversation: a seen-ack takes it, so that two acks of the same
// conversation by the same person (on two nodes) take turns over the
// unseen index and the notifications they mark. The pipeline's commit,
// which adds to that index, holds the conversation's lock (ConvLock),
// which seen-acks hold shared.
func SeenLock(person, conv string) string { return "seen:" + person + "\x00" + conv }

// MarkSeen marks the person's notifications of every message of conv up
// to and including upTo as seen at now. It is idempotent: it returns only
// the message IDs newly marked. An unknown message or nothing pending is
// not an error. It reads only the unseen index, so its cost is what it marks.
func MarkSeen(tx *store.Tx, person, conv, upTo string, now time.Time) ([]string, error) {
	tx.Need(SeenLock(person, conv))
	prefix := []byte(person + "\x00" + conv + "\x00")
	var ids []string
	err := tx.Scan(bUnseen, prefix, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		id := string(k[len(prefix):])
		if id > upTo { // message IDs sort by creation time
			return false, nil
		}
		ids = append(ids, id)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return MarkSeenOf(tx, person, conv, ids, now)
}

// MarkSeenOf is MarkSeen for the messages ids (oldest first) that a
// SeenCheck found pending: it marks those of them still unseen, reading
// no index, and returns them. Under the seen lock (SeenLock) its reads are
// exact; SeenReads names them for the commit's first round trip.
func MarkSeenOf(tx *store.Tx, person, conv string, ids []string, now time.Time) ([]string, error) {
	var marked []string
	for _, id := range ids {
		if err := tx.Delete(bUnseen, unseenKey(person, conv, id)); err != nil {
			return nil, err
		}
		k := notifKey(person, id)
		v := tx.Get(bNotifications, k)
		if v == nil {
			continue
		}
		var n Notification
		if err := json.Unmarshal(v, &n); err != nil {
			return nil, err
		}
		if n.Seen != nil {
			continue
		}
		t := now
		n.Seen = &t
		if err := put(tx, bNotifications, string(k), n); err != nil {
			return nil, err
		}
		marked = append(marked, id)
	}
	return marked, nil
}

// TopicNotification is the store bus topic of new notifications: nodes
// sharing a database feed each other's live streams from it.
const TopicNotification = "notification"

// DecodeNotificationNote reads a notification published on the bus.
func DecodeNotificationNote(p string) (Notification, error) {
	var n Notification
	err := json.Unmarshal([]byte(p), &n)
	return n, err
}

// MaxSeenCheck bounds the pending notifications a SeenCheck lists; an
// ack that would mark more (a long conversation never read) is marked by
// MarkSeen, which reads the unseen index inside the commit.
const MaxSeenCheck = 256

// SeenCheck is what a seen-ack finds in one snapshot before it writes.
type SeenCheck struct {
	// Known: upTo is a message of the conversation.
	Known bool
	// Pending are the messages, oldest first, up to and including upTo,
	// whose notification of the person is unseen; Complete is false when
	// there were more than MaxSeenCheck of them (Pending holds the first).
	Pending  []string
	Complete bool
	// Extra are the answers to the caller's extra queries.
	Extra [][]store.KV
}

// CheckSeen reads what a seen-ack of person for conv up to upTo needs
// before it writes, in one snapshot (one round trip on PostgreSQL): the
// person and the conversation (ErrNotFound when either is missing),
// whether upTo is a message of the conversation, and the person's unseen
// notifications of it up to upTo; extra are the caller's own queries
// (the hold queue's), answered from the same snapshot.
//
// Nothing pending means the ack changes nothing now: a seen-ack is
// idempotent, and a notification added later is of a message committed
// after this snapshot, which the person cannot have seen when acking.
// With ErrNotFound the SeenCheck still holds Extra, so that a caller's
// own check (a person token's generation) can come first.
func CheckSeen(ctx context.Context, db *store.DB, person, conv, upTo string, extra ...store.Query) (SeenCheck, error) {
	qs := append(SeenQueries(person, conv, upTo), extra...)
	res, err := db.Snapshot(ctx, qs...)
	if err != nil {
		return SeenCheck{}, err
	}
	return ParseSeen(person, conv, res)
}

// SeenQueries are the reads of CheckSeen, for a caller that reads them
// in a snapshot of its own (several acks in one statement); ParseSeen
// reads their answers, followed by the caller's extra queries'.
func SeenQueries(person, conv, upTo string) []store.Query {
	prefix := []byte(person + "\x00" + conv + "\x00")
	return []store.Query{
		store.Get(bPeople, []byte(person)),
		store.Get(bConversations, []byte(conv)),
		store.Get(bConvMessages, convKey(conv, upTo)),
		{Bucket: bUnseen, From: prefix, To: append(prefix, upTo...), Limit: MaxSeenCheck + 1},
	}
}

// ParseSeen is CheckSeen's answer from the answers to SeenQueries and,
// after them, the caller's extra queries (SeenCheck.Extra).
func ParseSeen(person, conv string, res [][]store.KV) (SeenCheck, error) {
	prefix := []byte(person + "\x00" + conv + "\x00")
	if len(res[0]) == 0 {
		return SeenCheck{Extra: res[4:]}, fmt.Errorf("person %s: %w", person, ErrNotFound)
	}
	if len(res[1]) == 0 {
		return SeenCheck{Extra: res[4:]}, fmt.Errorf("conversation %s: %w", conv, ErrNotFound)
	}
	c := SeenCheck{Known: len(res[2]) > 0, Complete: len(res[3]) <= MaxSeenCheck, Extra: res[4:]}
	for _, kv := range res[3][:min(len(res[3]), MaxSeenCheck)] {
		c.Pending = append(c.Pending, string(kv.Key[len(prefix):]))
	}
	return c, nil
}

// SeenReads names for store.Reads the notifications MarkSeenOf reads.
func SeenReads(person string, ids []string) store.UpdateOption {
	keys := make([][]byte, len(ids))
	for i, id := range ids {
		keys[i] = notifKey(person, id)
	}
	return store.Reads(bNotifications, keys...)
}
