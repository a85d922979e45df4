package model

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/deskmail/deskmail/notify"
	"github.com/deskmail/deskmail/store"
)

// bEmailsAppended maps an inbound email's identity to the message it
// became, so the same email arriving twice (one copy per recipient, a
// retry with other envelope recipients) is appended once.
const bEmailsAppended = "emails_appended"

// EmailKey names an inbound email: its Message-ID and the hash of its
// body. Two different emails that reuse one Message-ID (broken clients,
// resent drafts) differ in body and both get appended; the same email
// delivered twice has both equal. Without a Message-ID only the stored
// copy's ID identifies it.
func EmailKey(messageID, bodyHash, storedID string) string {
	h := sha256.New()
	if id := canonicalMessageID(messageID); id != "" {
		fmt.Fprintf(h, "mid\x00%s\x00%s", id, bodyHash)
	} else {
		fmt.Fprintf(h, "stored\x00%s", storedID)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// EmailAppended returns the message an email (by EmailKey) became.
func EmailAppended(tx *store.Tx, key string) (msgID string, ok bool) {
	tx.Need(EmailKeyLock(key))
	v := tx.Get(bEmailsAppended, []byte(key))
	return string(v), v != nil
}

// RememberEmail records that the email became message msgID.
func RememberEmail(tx *store.Tx, key, msgID string) error {
	tx.Need(EmailKeyLock(key))
	return tx.Put(bEmailsAppended, []byte(key), []byte(msgID))
}

// AddCustomer creates a customer for an address nobody owns yet (mail
// to a support address from a stranger, SPEC section 6), marked
// unverified when its email's From was not authenticated (MarkUnverified
// in the same write: one record written, not two). id is fresh
// (store.NewID): its lock is the transaction's own; the address's is not;
// and nothing is stored under it yet, so nothing is read or deleted for
// it (PutPerson of a person it has to look for).
func AddCustomer(tx *store.Tx, id, name, email string, now time.Time, unverified bool) (Person, error) {
	tx.Own(PersonLock(id))
	tx.Absent(bPeople, []byte(id)) // a fresh id: no read needed to know it is new
	if len(name) > 200 {
		name = strings.ToValidUTF8(name[:200], "")
	}
	p := Person{ID: id, Kind: notify.KindCustomer, Name: name, Emails: []string{email},
		Settings: notify.DefaultSettings(), Created: now, Unverified: unverified}
	if err := putPerson(tx, p, true); err != nil {
		return Person{}, err
	}
	return p, nil
}
