package model

import (
	"encoding/json"
	"fmt"

	"github.com/deskmail/deskmail/store"
)

// GetNotification returns person's notification of message msg, so the
// hold queue can check, when a hold ends, that it is still unseen.
func GetNotification(tx *store.Tx, person, msg string) (Notification, error) {
	var n Notification
	v := tx.Get(bNotifications, notifKey(person, msg))
	if v == nil {
		return n, fmt.Errorf("notification of %s to %s: %w", msg, person, ErrNotFound)
	}
	return n, json.Unmarshal(v, &n)
}
