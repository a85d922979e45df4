package fetch

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"time"

	"github.com/deskmail/deskmail/store"
)

// What a mailbox's fetching leaves in the store:
//
//	fetch_mark/NAME                 UIDVALIDITY and the next UID to look at
//	fetch_uid/NAME\0UIDVALIDITY UID  a stored message whose "after" (move,
//	                                 flag, delete) is not yet done on the server
//	fetch_lease/NAME                the node fetching the mailbox, and until when
//
// A message's fetch_uid record is written in the commit that stores the
// message (inbound.With.Also), so after a crash between that commit and
// the move the next run finds the record and only moves the message. The
// mark moves past a batch's UIDs once they are all settled (stored or set
// aside, no gap before them); what a crash leaves below it is found again
// by the search and recognised by the inbound dedupe (Message-ID and
// content digest), which also catches what the records cannot (a new
// UIDVALIDITY, a message copied back into the folder).
const (
	bucketMark  = "fetch_mark"
	bucketUID   = "fetch_uid"
	bucketLease = "fetch_lease"
)

// ErrLeaseLost is returned when another node holds the mailbox's lease.
var ErrLeaseLost = errors.New("fetch: the mailbox is fetched by another node")

// Mark is how far a mailbox has been read.
type Mark struct {
	UIDValidity uint32    `json:"uidvalidity"`
	Next        uint32    `json:"next"` // UIDs below were stored or set aside
	Reset       time.Time `json:"reset,omitempty"`
}

func getMark(tx *store.Tx, name string) (Mark, error) {
	var m Mark
	v := tx.Get(bucketMark, []byte(name))
	if v == nil {
		return m, nil
	}
	return m, json.Unmarshal(v, &m)
}

func putMark(tx *store.Tx, name string, m Mark) error {
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Put(bucketMark, []byte(name), v)
}

// advance moves the mark past uid (same UIDVALIDITY only).
func advance(tx *store.Tx, name string, uv, uid uint32) error {
	m, err := getMark(tx, name)
	if err != nil {
		return err
	}
	if m.UIDValidity != uv || uid < m.Next {
		return nil
	}
	m.Next = uid + 1
	return putMark(tx, name, m)
}

func uidKey(name string, uv, uid uint32) []byte {
	k := make([]byte, 0, len(name)+9)
	k = append(k, name...)
	k = append(k, 0)
	k = binary.BigEndian.AppendUint32(k, uv)
	return binary.BigEndian.AppendUint32(k, uid)
}

// record is a stored message awaiting its "after" on the server.
type record struct {
	Stored string    `json:"stored"` // the inbound id
	At     time.Time `json:"at"`
}

func putRecord(tx *store.Tx, name string, uv, uid uint32, id string, now time.Time) error {
	v, err := json.Marshal(record{Stored: id, At: now})
	if err != nil {
		return err
	}
	return tx.Put(bucketUID, uidKey(name, uv, uid), v)
}

// pending lists the UIDs of name under uv that were stored and not yet
// moved, flagged or deleted on the server.
func pending(ctx context.Context, db *store.DB, name string, uv uint32) ([]uint32, error) {
	var out []uint32
	prefix := uidKey(name, uv, 0)[:len(name)+5]
	err := db.View(ctx, func(tx *store.Tx) error {
		out = out[:0]
		return tx.Scan(bucketUID, prefix, func(k, _ []byte) (bool, error) {
			if len(k) != len(prefix)+4 || string(k[:len(prefix)]) != string(prefix) {
				return false, nil
			}
			out = append(out, binary.BigEndian.Uint32(k[len(prefix):]))
			return true, nil
		})
	})
	return out, err
}

// forget drops the records of uids (their "after" is done), or with uv
// = 0 every record of name under another UIDVALIDITY than keep.
func forget(ctx context.Context, db *store.DB, name string, uv uint32, uids []uint32) error {
	return db.Update(ctx, func(tx *store.Tx) error {
		for _, u := range uids {
			if err := tx.Delete(bucketUID, uidKey(name, uv, u)); err != nil {
				return err
			}
		}
		return nil
	})
}

// forgetOther drops the records of name under a UIDVALIDITY other than
// keep: their UIDs mean nothing any more.
func forgetOther(tx *store.Tx, name string, keep uint32) error {
	prefix := append([]byte(name), 0)
	var doomed [][]byte
	err := tx.Scan(bucketUID, prefix, func(k, _ []byte) (bool, error) {
		if len(k) != len(prefix)+8 || string(k[:len(prefix)]) != string(prefix) {
			return false, nil
		}
		if binary.BigEndian.Uint32(k[len(prefix):]) != keep {
			doomed = append(doomed, append([]byte(nil), k...))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range doomed {
		if err := tx.Delete(bucketUID, k); err != nil {
			return err
		}
	}
	return nil
}

// Lease is who fetches a mailbox. With several nodes on PostgreSQL
// exactly one holds it; it is renewed while the node works and taken over
// by another node once it has expired.
type Lease struct {
	Owner string    `json:"owner"`
	Until time.Time `json:"until"`
	Fence uint64    `json:"fence"`
}

func getLease(tx *store.Tx, name string) (Lease, error) {
	var l Lease
	v := tx.Get(bucketLease, []byte(name))
	if v == nil {
		return l, nil
	}
	return l, json.Unmarshal(v, &l)
}

// takeLease takes or renews name's lease for owner; it returns the lease
// as it is now (held by another node: Owner tells which).
func takeLease(ctx context.Context, db *store.DB, name, owner string, now time.Time, d time.Duration) (Lease, error) {
	var out Lease
	err := db.Update(ctx, func(tx *store.Tx) error {
		l, err := getLease(tx, name)
		if err != nil {
			return err
		}
		if l.Owner != owner && l.Owner != "" && now.Before(l.Until) {
			out = l
			return nil
		}
		if l.Owner != owner {
			l.Fence++
		}
		l.Owner, l.Until = owner, now.Add(d)
		out = l
		v, err := json.Marshal(l)
		if err != nil {
			return err
		}
		return tx.Put(bucketLease, []byte(name), v)
	}, store.Reads(bucketLease, []byte(name)))
	return out, err
}

// checkLease fails with ErrLeaseLost unless owner still holds name's
// lease with fence.
func checkLease(tx *store.Tx, name, owner string, fence uint64, now time.Time) error {
	l, err := getLease(tx, name)
	if err != nil {
		return err
	}
	if l.Owner != owner || l.Fence != fence || !now.Before(l.Until) {
		return ErrLeaseLost
	}
	return nil
}

// releaseLease gives name's lease up (a clean stop), so another node
// takes over at once.
func releaseLease(ctx context.Context, db *store.DB, name, owner string) error {
	return db.Update(ctx, func(tx *store.Tx) error {
		l, err := getLease(tx, name)
		if err != nil || l.Owner != owner {
			return err
		}
		l.Owner, l.Until = "", time.Time{}
		v, err := json.Marshal(l)
		if err != nil {
			return err
		}
		return tx.Put(bucketLease, []byte(name), v)
	})
}

// Marks returns every mailbox's mark (deskmail fetch status, tests).
func Marks(ctx context.Context, db *store.DB) (map[string]Mark, error) {
	out := map[string]Mark{}
	err := db.View(ctx, func(tx *store.Tx) error {
		return tx.Scan(bucketMark, nil, func(k, v []byte) (bool, error) {
			var m Mark
			if err := json.Unmarshal(v, &m); err != nil {
				return false, err
			}
			out[string(k)] = m
			return true, nil
		})
	})
	return out, err
}
