package operators

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/deskmail/deskmail/store"
)

// Sessions are stored server-side (bucket console_sessions): the key is
// the SHA-256 of the cookie's random id, so a copy of the database does
// not hand out live cookies. An index (operator \x00 key) lets a password
// change or a removal end every session of one operator.
const (
	BucketSessions = "console_sessions"
	bSessionsOwner = "console_sessions_by_operator"
)

// Session limits.
const (
	// SessionTTL is how long a session lasts from login: a work day.
	SessionTTL = 12 * time.Hour
	// MaxSessionsPerOperator bounds the sessions of one account; the
	// oldest ends when a new one would pass it.
	MaxSessionsPerOperator = 20
)

// Session is one logged-in browser.
type Session struct {
	Operator string    `json:"operator"`
	CSRF     string    `json:"csrf"`
	Created  time.Time `json:"created"`
	Expires  time.Time `json:"expires"`
	IP       string    `json:"ip,omitempty"`
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (it panics instead)
	return hex.EncodeToString(b)
}

func sessionKey(id string) []byte {
	h := sha256.Sum256([]byte(id))
	return []byte(hex.EncodeToString(h[:]))
}

func ownerKey(op string, key []byte) []byte { return append([]byte(op+"\x00"), key...) }

// StartSession stores a new session for op and returns the cookie's id.
func StartSession(tx *store.Tx, op, ip string, now time.Time) (string, Session, error) {
	if err := trimSessions(tx, op, now); err != nil {
		return "", Session{}, err
	}
	id := randomHex(32)
	s := Session{Operator: op, CSRF: randomHex(32), Created: now, Expires: now.Add(SessionTTL), IP: ip}
	b, err := json.Marshal(s)
	if err != nil {
		return "", s, err
	}
	k := sessionKey(id)
	if err := tx.Put(BucketSessions, k, b); err != nil {
		return "", s, err
	}
	return id, s, tx.Put(bSessionsOwner, ownerKey(op, k), nil)
}

// LookupSession returns the live session of a cookie id; ok is false for
// an unknown or expired one.
func LookupSession(tx *store.Tx, id string, now time.Time) (Session, bool) {
	var s Session
	if id == "" || len(id) > 128 {
		return s, false
	}
	b := tx.Get(BucketSessions, sessionKey(id))
	if b == nil || json.Unmarshal(b, &s) != nil || !now.Before(s.Expires) {
		return Session{}, false
	}
	return s, true
}

// EndSession deletes the session of a cookie id (logout).
func EndSession(tx *store.Tx, id string) error {
	k := sessionKey(id)
	var s Session
	if b := tx.Get(BucketSessions, k); b != nil && json.Unmarshal(b, &s) == nil {
		if err := tx.Delete(bSessionsOwner, ownerKey(s.Operator, k)); err != nil {
			return err
		}
	}
	return tx.Delete(BucketSessions, k)
}

// sessionsOf returns the keys of op's sessions.
func sessionsOf(tx *store.Tx, op string) ([][]byte, error) {
	prefix := []byte(op + "\x00")
	var keys [][]byte
	err := tx.Scan(bSessionsOwner, prefix, func(k, _ []byte) (bool, error) {
		if !bytes.HasPrefix(k, prefix) {
			return false, nil
		}
		keys = append(keys, append([]byte(nil), k[len(prefix):]...))
		return true, nil
	})
	return keys, err
}

// trimSessions drops op's expired sessions and, at the cap, the oldest.
func trimSessions(tx *store.Tx, op string, now time.Time) error {
	keys, err := sessionsOf(tx, op)
	if err != nil {
		return err
	}
	var live [][]byte
	var oldest []byte
	var oldestAt time.Time
	for _, k := range keys {
		var s Session
		b := tx.Get(BucketSessions, k)
		if b == nil || json.Unmarshal(b, &s) != nil || !now.Before(s.Expires) {
			if err := dropSession(tx, op, k); err != nil {
				return err
			}
			continue
		}
		live = append(live, k)
		if oldest == nil || s.Created.Before(oldestAt) {
			oldest, oldestAt = k, s.Created
		}
	}
	if len(live) >= MaxSessionsPerOperator {
		return dropSession(tx, op, oldest)
	}
	return nil
}

func dropSession(tx *store.Tx, op string, k []byte) error {
	if err := tx.Delete(BucketSessions, k); err != nil {
		return err
	}
	return tx.Delete(bSessionsOwner, ownerKey(op, k))
}

// endSessions ends every session of op.
func endSessions(tx *store.Tx, op string) error {
	keys, err := sessionsOf(tx, op)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := dropSession(tx, op, k); err != nil {
			return err
		}
	}
	return nil
}
